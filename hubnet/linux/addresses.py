"""IPv4 addresses on links. `ensure_only` repairs a bridge that kept a stale gateway (flannel #1850)."""

from __future__ import annotations

from ipaddress import IPv4Interface
from typing import Any

from pyroute2 import NetlinkError

from hubnet.linux.errors import translate


def list_v4(h: Any, index: int) -> list[IPv4Interface]:
    """The IPv4 addresses (with prefix) on the link."""
    out = []
    for msg in h.get_addr(index=index, family=2):
        out.append(IPv4Interface(f"{msg.get('IFA_ADDRESS')}/{msg['prefixlen']}"))
    return out


def add(h: Any, index: int, address: IPv4Interface, what: str = "") -> None:
    """Add the address; one already present is success."""
    try:
        h.addr("add", index=index, address=str(address.ip), prefixlen=address.network.prefixlen)
    except NetlinkError as exc:
        if exc.code != 17:  # EEXIST
            raise translate(exc, f"add address {address} to {what or index}") from None


def delete(h: Any, index: int, address: IPv4Interface, what: str = "") -> None:
    try:
        h.addr("del", index=index, address=str(address.ip), prefixlen=address.network.prefixlen)
    except NetlinkError as exc:
        if exc.code not in (99, 19, 2):  # EADDRNOTAVAIL, ENODEV, ENOENT: already gone
            raise translate(exc, f"delete address {address} from {what or index}") from None


def ensure_only(h: Any, index: int, address: IPv4Interface, what: str = "") -> list[IPv4Interface]:
    """Make `address` the link's only IPv4 address; returns the stale ones it removed."""
    stale = [a for a in list_v4(h, index) if a != address]
    for old in stale:
        delete(h, index, old, what)
    add(h, index, address, what)
    return stale
