"""Addresses on links, both families. `ensure_only` repairs a bridge that kept a stale gateway (flannel #1850).

IPv6 addresses hubnet adds carry IFA_F_NODAD: duplicate address detection would keep a new address `tentative`
(unusable) for about a second, and hubnet's addresses are unique by construction (node IPAM, one subnet per node).
The kernel's own link-local address (fe80::/10) is never listed, compared or removed.
"""

from __future__ import annotations

from ipaddress import IPv4Interface, IPv6Interface, ip_interface
from typing import Any

from pyroute2 import NetlinkError

from hubnet.linux.errors import translate

Interface = IPv4Interface | IPv6Interface
IFA_F_NODAD = 0x02
_AF = {4: 2, 6: 10}  # AF_INET, AF_INET6


def list_v4(h: Any, index: int) -> list[IPv4Interface]:
    """The IPv4 addresses (with prefix) on the link."""
    out = []
    for msg in h.get_addr(index=index, family=2):
        out.append(IPv4Interface(f"{msg.get('IFA_ADDRESS')}/{msg['prefixlen']}"))
    return out


def list_family(h: Any, index: int, family: int) -> list[Interface]:
    """The addresses of `family` (4 or 6) on the link, IPv6 link-local ones left out (the kernel's own)."""
    if family == 4:
        return list(list_v4(h, index))
    out: list[Interface] = []
    for msg in h.get_addr(index=index, family=_AF[6]):
        address = ip_interface(f"{msg.get('IFA_ADDRESS')}/{msg['prefixlen']}")
        if not address.ip.is_link_local:
            out.append(address)
    return out


def add(h: Any, index: int, address: Interface, what: str = "") -> None:
    """Add the address — IPv4 with its subnet's broadcast address, as `ip addr add … brd +` and the reference CNI
    plugins do; IPv6 without DAD: usable at once. One already present is success."""
    spec: dict[str, Any] = {"index": index, "address": str(address.ip), "prefixlen": address.network.prefixlen}
    if address.version == 6:
        spec["flags"] = IFA_F_NODAD
    elif address.network.prefixlen < 31:
        spec["broadcast"] = str(address.network.broadcast_address)
    try:
        h.addr("add", **spec)
    except NetlinkError as exc:
        if exc.code != 17:  # EEXIST
            raise translate(exc, f"add address {address} to {what or index}") from None


def delete(h: Any, index: int, address: Interface, what: str = "") -> None:
    try:
        h.addr("del", index=index, address=str(address.ip), prefixlen=address.network.prefixlen)
    except NetlinkError as exc:
        if exc.code not in (99, 19, 2):  # EADDRNOTAVAIL, ENODEV, ENOENT: already gone
            raise translate(exc, f"delete address {address} from {what or index}") from None


def ensure_only(h: Any, index: int, address: Interface, what: str = "") -> list[Interface]:
    """Make `address` the link's only address of its family (IPv6: besides link-local); returns the stale ones it
    removed."""
    stale = [a for a in list_family(h, index, address.version) if a != address]
    for old in stale:
        delete(h, index, old, what)
    add(h, index, address, what)
    return stale
