"""Routes a node and its pods need: the cluster CIDRs via the router, a pod's default route via its gateway; both
families (the family of a route is the family of its destination).

(The router's table belongs to `hubnet.linux.routes`; these are plain static routes in the node / pod namespaces.)
"""

from __future__ import annotations

import errno
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

from pyroute2 import NetlinkError

from hubnet.linux.errors import translate
from hubnet.net import Address, Network

DEFAULT = IPv4Network("0.0.0.0/0")
DEFAULT6 = IPv6Network("::/0")
_AF = {4: 2, 6: 10}  # AF_INET, AF_INET6


def default(family: int) -> Network:
    """The default route's destination of `family`: 0.0.0.0/0 or ::/0."""
    return DEFAULT if family == 4 else DEFAULT6


def replace(h: Any, dst: Network, gateway: Address, oif: int | None = None, proto: int | None = None) -> None:
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


def create(h: Any, dst: Network, gateway: Address, oif: int) -> bool:
    """Add `dst via gateway dev oif` unless the main table already has a route to `dst` (at the same metric).

    One request with NLM_F_CREATE|NLM_F_EXCL, no dump: True when it was created, False when one was there already
    (EEXIST) — then nothing is changed, whatever interface that route uses. (For IPv6, EXCL is also what keeps the
    kernel from appending the new next hop to the existing route as a multipath one.)
    """
    try:
        h.route("add", dst=str(dst), gateway=str(gateway), oif=oif)
    except NetlinkError as exc:
        if exc.code == errno.EEXIST:
            return False
        raise translate(exc, f"add route {dst} via {gateway}") from None
    return True


def _main_routes(h: Any, dst: Network) -> list[Any]:
    """The main-table routes to exactly `dst`."""
    zero = "0.0.0.0" if dst.version == 4 else "::"
    return [
        msg
        for msg in h.get_routes(family=_AF[dst.version], table=254)
        if msg["dst_len"] == dst.prefixlen and ip_address(msg.get("RTA_DST") or zero) == dst.network_address
    ]


def has(h: Any, dst: Network, gateway: Address, oif: int) -> bool:
    """True when the main table has `dst via gateway dev oif`."""
    for msg in _main_routes(h, dst):
        gw = msg.get("RTA_GATEWAY")
        if gw is not None and ip_address(gw) == gateway and msg.get("RTA_OIF") == oif:
            return True
    return False


def delete(h: Any, dst: Network, gateway: Address, proto: int | None = None) -> None:
    """Delete `dst via gateway` (only with protocol `proto` when given: the kernel matches all three)."""
    spec: dict[str, Any] = {"dst": str(dst), "gateway": str(gateway)}
    if proto is not None:
        spec["proto"] = proto
    try:
        h.route("del", **spec)
    except NetlinkError as exc:
        if exc.code not in (3, 2, 19):  # ESRCH, ENOENT, ENODEV: already gone
            raise translate(exc, f"delete route {dst} via {gateway}") from None


def gateway_of(h: Any, dst: Network) -> Address | None:
    """The gateway of the main-table route to exactly `dst`, or None when there is none (or it is on-link)."""
    found = lookup(h, dst)
    return None if found is None else found[0]


def lookup(h: Any, dst: Network) -> tuple[Address | None, int] | None:
    """(gateway, protocol) of the main-table route to exactly `dst`, or None when there is none."""
    for msg in _main_routes(h, dst):
        gw = msg.get("RTA_GATEWAY")
        return (ip_address(gw) if gw else None), int(msg["proto"])
    return None
