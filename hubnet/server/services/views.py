"""The node record as the API shows it (the wire contract's `Node`), including flags for rows that are not what
they should be.

Dual-stack (docs/dual-stack.md): every list is IPv4 first and each singular field is the first of its list, so a
client older than dual-stack reads an IPv4 (or IPv6-only) node exactly as before. Flags name the column they are
about: `subnet-…`/`address-…` for the IPv4 columns, `subnet6-…`/`address6-…` for the IPv6 ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hubnet.net import Network, by_family, gateway, parse_ip, parse_network
from hubnet.server.domain.records import NodeRecord, PoolRecord
from hubnet.server.services.context import Controller
from hubnet.server.services.ports import UnitOfWork
from hubnet.wire import LeaseState, Node, RouteState

EMBEDDED = "embedded"  # the `route_states` key when the controller programs routes itself

SUFFIX = {4: "", 6: "6"}  # the column suffix of each family (subnet, subnet6)


@dataclass(frozen=True)
class RowFacts:
    """What a stored row's text amounts to: its parsed subnets (IPv4 first; unparsable ones left out), the gateway
    of its primary subnet (None when that one is unusable) and the flags of every column."""

    subnets: list[Network]
    gateway: str | None
    flags: list[str]

    @property
    def gateways(self) -> list[str]:
        return [str(gateway(s)) for s in self.subnets]


def row_facts(ctl: Controller, node: NodeRecord, pools: list[PoolRecord]) -> RowFacts:
    """Parse and check every family's columns of a stored row. Never raises: a bad row is served and flagged."""
    flags: list[str] = []
    subnets: list[Network] = []
    for family, address, subnet in ((4, node.address, node.subnet), (6, node.address6, node.subnet6)):
        suffix = SUFFIX[family]
        if address is not None and not _parses(address, family):
            flags.append(f"address{suffix}-unparsable")
        if subnet is None:
            continue
        try:
            network = parse_network(subnet, family=family)
        except ValueError:
            flags.append(f"subnet{suffix}-unparsable")
            continue
        subnets.append(network)
        if not any(p.family == family and ctl.space(p).allocatable(network) for p in pools):
            flags.append(f"subnet{suffix}-outside-pools")
    primary = next((s for s in subnets if s.version == _families(node)[0]), None)
    return RowFacts(subnets, str(gateway(primary)) if primary else None, flags)


def route_states(ctl: Controller, uow: UnitOfWork, nodes: Sequence[NodeRecord]) -> dict[int, dict[str, str]]:
    """Per node id, where its `route_state` comes from: `{"embedded": route_state}` when this controller programs
    routes itself; else each router agent's state for the node's current generation (`pending` without one, a
    released node `withdrawn`), `down` routers included."""
    if ctl.settings.route_backend != "none":
        return {n.id: {EMBEDDED: n.route_state} for n in nodes}
    routers = [r.name for r in uow.repo.routers.all()] if nodes else []
    if not routers:
        return {}
    reported: dict[int, dict[str, tuple[int, str]]] = {}
    for row in uow.repo.routers.states([n.id for n in nodes]):
        reported.setdefault(row.node_id, {})[row.router] = (row.generation, row.state)
    found = {}
    for node in nodes:
        mine = reported.get(node.id, {})
        if node.state == LeaseState.RELEASED:
            found[node.id] = dict.fromkeys(routers, RouteState.WITHDRAWN.value)
            continue
        found[node.id] = {
            name: held[1] if (held := mine.get(name)) and held[0] == node.generation else RouteState.PENDING.value
            for name in routers
        }
    return found


def node_view_of(ctl: Controller, uow: UnitOfWork, node: NodeRecord, pools: list[PoolRecord]) -> Node:
    """`node_view` with the node's `route_states` read in this transaction."""
    return node_view(ctl, node, pools, route_states(ctl, uow, [node]).get(node.id, {}))


def node_view(ctl: Controller, node: NodeRecord, pools: list[PoolRecord], states: dict[str, str] | None = None) -> Node:
    """The record as the API shows it; `states`: its `route_states` (see `route_states`)."""
    facts = row_facts(ctl, node, pools)
    families = _families(node)
    # The router's address of each family the node has a subnet of: the next hop of that family's cluster route.
    routers = [str(a) for a in ctl.settings.router_addresses if a.version in families]
    return Node(
        name=node.name,
        address=node.primary_address,
        subnet=node.primary_subnet,
        gateway=facts.gateway,
        generation=node.generation,
        state=LeaseState(node.state),
        route_state=RouteState(node.route_state),
        route_error=node.route_error,
        # Only the pools of the node's families: an agent older than dual-stack parses every entry as IPv4, and a
        # node routes (and masquerades) only the families it has.
        cluster_cidrs=by_family(p.cidr for p in pools if p.family in families),
        router_address=routers[0] if routers else None,
        lease_ttl_seconds=ctl.settings.lease_ttl_seconds,
        machine_id=node.machine_id,
        lease_expires_at=node.expires_at,
        flags=facts.flags,
        route_proto=ctl.settings.route_proto,
        addresses=node.addresses,
        subnets=node.subnets,
        gateways=facts.gateways,
        router_addresses=routers,
        route_states=states or {},
        mode=ctl.settings.mode,
        released_at=node.released_at if node.state == LeaseState.RELEASED else None,
    )


def _families(node: NodeRecord) -> list[int]:
    """The families the row holds a subnet column of, IPv4 first ([4] for a row with none: the schema forbids it)."""
    return [f for f, subnet in ((4, node.subnet), (6, node.subnet6)) if subnet is not None] or [4]


def _parses(text: str, family: int) -> bool:
    try:
        parse_ip(text, family=family)
    except ValueError:
        return False
    return True
