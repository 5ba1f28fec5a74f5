"""The node record as the API shows it (the wire contract's `Node`), including flags for rows that are not what
they should be."""

from __future__ import annotations

from ipaddress import IPv4Address

from hubnet.net import gateway, parse_network
from hubnet.server.domain.records import NodeRecord, PoolRecord
from hubnet.server.services.context import Controller
from hubnet.wire import LeaseState, Node, RouteState


def row_flags(ctl: Controller, node: NodeRecord, pools: list[PoolRecord]) -> tuple[str | None, list[str]]:
    """The gateway (None when the subnet is unusable) and the flags of a stored row. Never raises."""
    flags: list[str] = []
    try:
        IPv4Address(node.address)
    except ValueError:
        flags.append("address-unparsable")
    try:
        subnet = parse_network(node.subnet)
    except ValueError:
        return None, [*flags, "subnet-unparsable"]
    if not any(ctl.space(p).allocatable(subnet) for p in pools):
        flags.append("subnet-outside-pools")
    return str(gateway(subnet)), flags


def node_view(ctl: Controller, node: NodeRecord, pools: list[PoolRecord]) -> Node:
    gw, flags = row_flags(ctl, node, pools)
    router = ctl.settings.router_address
    return Node(
        name=node.name,
        address=node.address,
        subnet=node.subnet,
        gateway=gw,
        generation=node.generation,
        state=LeaseState(node.state),
        route_state=RouteState(node.route_state),
        route_error=node.route_error,
        cluster_cidrs=[p.cidr for p in pools],
        router_address=str(router) if router else None,
        lease_ttl_seconds=ctl.settings.lease_ttl_seconds,
        machine_id=node.machine_id,
        lease_expires_at=node.expires_at,
        flags=flags,
        route_proto=ctl.settings.route_proto,
    )
