"""Routes a node and its pods need: the cluster CIDRs via the router, a pod's default route via its gateway.

(The router's table belongs to `hubnet.linux.routes`; these are plain static routes in the node / pod namespaces.)
"""

from __future__ import annotations

import errno
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from pyroute2 import NetlinkError

from hubnet.linux.errors import translate

DEFAULT = IPv4Network("0.0.0.0/0")


def replace(h: Any, dst: IPv4Network, gateway: IPv4Address, oif: int | None = None, proto: int | None = None) -> None:
    """Install (or correct) `dst via gateway` in the main table; idempotent. `proto` marks the route as ours."""
    spec: dict[str, Any] = {"dst": str(dst), "gateway": str(gateway)}
    if oif is not None:
        spec["oif"] = oif
    if proto is not None:
        spec["proto"] = proto
    try:
        h.route("replace", **spec)
    except NetlinkError as exc:
        raise translate(exc, f"replace route {dst} via {gateway}") from None


def create(h: Any, dst: IPv4Network, gateway: IPv4Address, oif: int) -> bool:
    """Add `dst via gateway dev oif` unless the main table already has a route to `dst` (at metric 0).

    One request with NLM_F_CREATE|NLM_F_EXCL, no dump: True when it was created, False when one was there already
    (EEXIST) — then nothing is changed, whatever interface that route uses.
    """
    try:
        h.route("add", dst=str(dst), gateway=str(gateway), oif=oif)
    except NetlinkError as exc:
        if exc.code == errno.EEXIST:
            return False
        raise translate(exc, f"add route {dst} via {gateway}") from None
    return True


def has(h: Any, dst: IPv4Network, gateway: IPv4Address, oif: int) -> bool:
    """True when the main table has `dst via gateway dev oif`."""
    for msg in h.get_routes(family=2, table=254):
        if msg["dst_len"] != dst.prefixlen or IPv4Address(msg.get("RTA_DST") or "0.0.0.0") != dst.network_address:
            continue
        if msg.get("RTA_GATEWAY") == str(gateway) and msg.get("RTA_OIF") == oif:
            return True
    return False


def delete(h: Any, dst: IPv4Network, gateway: IPv4Address, proto: int | None = None) -> None:
    """Delete `dst via gateway` (only with protocol `proto` when given: the kernel matches all three)."""
    spec: dict[str, Any] = {"dst": str(dst), "gateway": str(gateway)}
    if proto is not None:
        spec["proto"] = proto
    try:
        h.route("del", **spec)
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


def lookup(h: Any, dst: IPv4Network) -> tuple[IPv4Address | None, int] | None:
    """(gateway, protocol) of the main-table route to exactly `dst`, or None when there is none."""
    for msg in h.get_routes(family=2, table=254):
        if msg["dst_len"] != dst.prefixlen or IPv4Address(msg.get("RTA_DST") or "0.0.0.0") != dst.network_address:
            continue
        gw = msg.get("RTA_GATEWAY")
        return (IPv4Address(gw) if gw else None), int(msg["proto"])
    return None
