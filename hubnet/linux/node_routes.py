"""Routes a node and its pods need: the cluster CIDRs via the router, a pod's default route via its gateway.

(The router's table belongs to `hubnet.linux.routes`; these are plain static routes in the node / pod namespaces.)
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Any

from pyroute2 import NetlinkError

from hubnet.linux.handle import translate

DEFAULT = IPv4Network("0.0.0.0/0")


def replace(h: Any, dst: IPv4Network, gateway: IPv4Address, oif: int | None = None) -> None:
    """Install (or correct) `dst via gateway` in the main table; idempotent."""
    spec: dict[str, Any] = {"dst": str(dst), "gateway": str(gateway)}
    if oif is not None:
        spec["oif"] = oif
    try:
        h.route("replace", **spec)
    except NetlinkError as exc:
        raise translate(exc, f"replace route {dst} via {gateway}") from None


def delete(h: Any, dst: IPv4Network, gateway: IPv4Address) -> None:
    try:
        h.route("del", dst=str(dst), gateway=str(gateway))
    except NetlinkError as exc:
        if exc.code not in (3, 2, 19):  # ESRCH, ENOENT, ENODEV: already gone
            raise translate(exc, f"delete route {dst} via {gateway}") from None


def gateway_of(h: Any, dst: IPv4Network) -> IPv4Address | None:
    """The gateway of the main-table route to exactly `dst`, or None when there is none (or it is on-link)."""
    for msg in h.get_routes(family=2, table=254):
        if msg["dst_len"] != dst.prefixlen:
            continue
        text = msg.get("RTA_DST") or "0.0.0.0"
        if IPv4Address(text) != dst.network_address:
            continue
        gw = msg.get("RTA_GATEWAY")
        return IPv4Address(gw) if gw else None
    return None
