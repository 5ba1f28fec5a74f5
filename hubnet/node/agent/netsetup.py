"""The node network: bridge with a gateway address per family, forwarding, the cluster routes, egress masquerade.

Every step is idempotent and repairs drift, so the agent runs it at start and after every (re)registration. Each
family the node has a subnet of is set up the same way; IPv6 needs the bridge's IPv6 on (`disable_ipv6=0`, before
its address is added) and IPv6 forwarding, turned on only on a node with an IPv6 subnet.
"""

from __future__ import annotations

import logging
from typing import Any

from hubnet.linux import addresses, links, nft, node_routes, sysctl
from hubnet.linux.netns import handle
from hubnet.linux.routes import RouteOp, RouteTable
from hubnet.net import Network
from hubnet.node.agent.podnet import gateway_interface
from hubnet.node.agent.state import NodeNetwork

log = logging.getLogger(__name__)
FORWARDING = {4: sysctl.IP_FORWARD, 6: sysctl.IPV6_FORWARDING}


def ensure(network: NodeNetwork, bridge: str) -> None:
    """Make the node's own network namespace match `network`."""
    with handle() as h:
        index = links.ensure_bridge(h, bridge)
        for subnet in network.subnets:
            if subnet.version == 6:
                sysctl.ensure(sysctl.interface(6, bridge, "disable_ipv6"), "0")
            gw = gateway_interface(subnet)
            stale = addresses.ensure_only(h, index, gw, bridge)
            if stale:
                log.warning("bridge %s had stale addresses %s; replaced by %s", bridge, [str(a) for a in stale], gw)
        for family in () if network.direct else network.families:  # direct: the peer routes replace them
            router = network.router_of(family)
            if router is not None and node_routes.gateway_of(h, node_routes.default(family)) != router:
                for cidr in network.cidrs_of(family):
                    _ensure_cluster_route(h, cidr, router, network.proto)
    for family in network.families:
        sysctl.ensure(FORWARDING[family], "1")
    nft.apply(nft.masquerade_ruleset(network.subnets, network.cluster_cidrs))


def _ensure_cluster_route(h: Any, cidr: Network, router: Any, proto: int) -> None:
    """`cidr via router proto P`, unless someone else's route to `cidr` is there: that one is left alone. P is the
    controller's routing-protocol number (`network.proto`, as on the router): only routes carrying it are ours."""
    found = node_routes.lookup(h, cidr)
    if found is not None and found[1] != proto:
        gw, theirs = found
        if gw != router:
            log.warning(
                "route to %s via %s (proto %d) is not ours: left alone; pods may not reach it", cidr, gw, theirs
            )
        return
    node_routes.replace(h, cidr, router, proto=proto)


def bridge_state(bridge: str) -> dict[str, Any]:
    """What the controller's integrity check compares with the record: the bridge and its addresses, IPv4 first,
    without the kernel's IPv6 link-local one (`{"name", "addresses"}`; no addresses when the bridge is missing)."""
    with handle() as h:
        index = links.index_of(h, bridge)
        found = [a for f in (4, 6) for a in addresses.list_family(h, index, f)] if index is not None else []
    return {"name": bridge, "addresses": [str(a) for a in found]}


def teardown(network: NodeNetwork | None, bridge: str) -> None:
    """Undo `ensure` (for `hubnet node leave`): masquerade tables, our cluster routes, bridge. Missing is success.
    Forwarding stays on (other software may rely on it)."""
    nft.delete_table()
    with handle() as h:
        if network is not None:
            for family in network.families:
                router = network.router_of(family)
                if router is None:
                    continue
                for cidr in network.cidrs_of(family):
                    node_routes.delete(h, cidr, router, proto=network.proto)  # ours only: the kernel matches all 3
        links.delete_link(h, bridge)
    if network is not None and network.direct:
        remove_peer_routes(network.proto)


def remove_peer_routes(proto: int, table: int = 254) -> None:
    """Direct mode's routes to the other nodes (every route of protocol `proto` in `table`: only ours carry it)."""
    routes = RouteTable(proto=proto, table=table)
    try:
        ops = [RouteOp("delete", r.prefix, r.next_hop) for r in routes.owned()]
        failed = routes.apply(ops) if ops else {}
        for i, error in failed.items():
            log.error("could not remove %s via %s: %s", ops[i].prefix, ops[i].next_hop, error)
    finally:
        routes.close()
