"""The node network: bridge with the gateway address, forwarding, the cluster route, egress masquerade.

Every step is idempotent and repairs drift, so the agent runs it at start and after every (re)registration.
"""

from __future__ import annotations

import logging
from ipaddress import IPv4Interface, IPv4Network
from typing import Any

from hubnet.linux import addresses, links, nft, node_routes, sysctl
from hubnet.linux.netns import handle
from hubnet.node.agent.state import NodeNetwork

log = logging.getLogger(__name__)


def ensure(network: NodeNetwork, bridge: str) -> None:
    """Make the node's own network namespace match `network`."""
    gw = IPv4Interface(f"{network.gateway}/{network.subnet.prefixlen}")
    with handle() as h:
        index = links.ensure_bridge(h, bridge)
        stale = addresses.ensure_only(h, index, gw, bridge)
        if stale:
            log.warning("bridge %s had stale addresses %s; replaced by %s", bridge, [str(a) for a in stale], gw)
        if network.router is not None and node_routes.gateway_of(h, node_routes.DEFAULT) != network.router:
            for cidr in network.cluster_cidrs:
                _ensure_cluster_route(h, cidr, network)
    sysctl.ensure(sysctl.IP_FORWARD, "1")
    nft.apply(nft.masquerade_ruleset(network.subnet, network.cluster_cidrs or (network.subnet,)))


def _ensure_cluster_route(h: Any, cidr: IPv4Network, network: NodeNetwork) -> None:
    """`cidr via router proto P`, unless someone else's route to `cidr` is there: that one is left alone. P is the
    controller's routing-protocol number (`network.proto`, as on the router): only routes carrying it are ours."""
    assert network.router is not None
    found = node_routes.lookup(h, cidr)
    if found is not None and found[1] != network.proto:
        gw, proto = found
        if gw != network.router:
            log.warning("route to %s via %s (proto %d) is not ours: left alone; pods may not reach it", cidr, gw, proto)
        return
    node_routes.replace(h, cidr, network.router, proto=network.proto)


def bridge_state(bridge: str) -> dict[str, Any]:
    """What the controller's integrity check compares with the record: the bridge and its IPv4 addresses
    (`{"name", "addresses"}`; no addresses when the bridge is missing)."""
    with handle() as h:
        index = links.index_of(h, bridge)
        found = addresses.list_v4(h, index) if index is not None else []
    return {"name": bridge, "addresses": [str(a) for a in found]}


def teardown(network: NodeNetwork | None, bridge: str) -> None:
    """Undo `ensure` (for `hubnet node leave`): masquerade table, our cluster routes, bridge. Missing is success."""
    nft.delete_table()
    with handle() as h:
        if network is not None and network.router is not None:
            for cidr in network.cluster_cidrs:
                node_routes.delete(h, cidr, network.router, proto=network.proto)  # ours only: the kernel matches all 3
        links.delete_link(h, bridge)
