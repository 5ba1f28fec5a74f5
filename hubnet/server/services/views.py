"""The node record as the API shows it (the wire contract's `Node`), including flags for rows that are not what
they should be."""

from __future__ import annotations

from ipaddress import ip_address

from hubnet.net import family_of, gateway, parse_network
from hubnet.server.domain.records import NodeRecord, PoolRecord
from hubnet.server.services.context import Controller
from hubnet.wire import LeaseState, Node, RouteState


def row_gateways(ctl: Controller, node: NodeRecord, pools: list[PoolRecord]) -> tuple[list[str], list[str]]:
    """The gateway of every usable subnet of a stored row (IPv4 first) and the row's flags. Never raises."""
    flags: list[str] = []
    for text in node.addresses:
        try:
            if ip_address(text).version != family_of(text):
                raise ValueError(text)
        except ValueError:
            flags.append("address-unparsable")
    gateways = []
    for text in node.subnets:
        try:
            subnet = parse_network(text, family=family_of(text))
        except ValueError:
            flags.append("subnet-unparsable")
            continue
        gateways.append(str(gateway(subnet)))
        if not any(ctl.space(p).allocatable(subnet) for p in pools):
            flags.append("subnet-outside-pools")
    return gateways, sorted(set(flags), key=flags.index)


def row_flags(ctl: Controller, node: NodeRecord, pools: list[PoolRecord]) -> tuple[str | None, list[str]]:
    """The primary gateway (None when the primary subnet is unusable) and the flags of a stored row. Never raises."""
    _, flags = row_gateways(ctl, node, pools)
    return _primary_gateway(node), flags


def _primary_gateway(node: NodeRecord) -> str | None:
    try:
        return str(gateway(parse_network(node.primary_subnet, family=family_of(node.primary_subnet))))
    except ValueError:
        return None


def node_view(ctl: Controller, node: NodeRecord, pools: list[PoolRecord]) -> Node:
    gateways, flags = row_gateways(ctl, node, pools)
    routers = [str(r) for r in ctl.settings.router_addresses]
    return Node(
        name=node.name,
        address=node.primary_address,
        subnet=node.primary_subnet,
        gateway=_primary_gateway(node),
        generation=node.generation,
        state=LeaseState(node.state),
        route_state=RouteState(node.route_state),
        route_error=node.route_error,
        cluster_cidrs=[p.cidr for p in pools],
        router_address=routers[0] if routers else None,
        lease_ttl_seconds=ctl.settings.lease_ttl_seconds,
        machine_id=node.machine_id,
        lease_expires_at=node.expires_at,
        flags=flags,
        route_proto=ctl.settings.route_proto,
        addresses=node.addresses,
        subnets=node.subnets,
        gateways=gateways,
        router_addresses=routers,
    )
