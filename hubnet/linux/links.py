"""Links: the node bridge and pod veth pairs. `ensure_*` creates or verifies; `delete_*` treats missing as success."""

from __future__ import annotations

import os
from typing import Any

from pyroute2 import NetlinkError

from hubnet.linux.errors import NotFound, translate


def index_of(h: Any, name: str) -> int | None:
    found = h.link_lookup(ifname=name)
    return int(found[0]) if found else None


def require_index(h: Any, name: str) -> int:
    index = index_of(h, name)
    if index is None:
        raise NotFound(f"link {name!r} does not exist")
    return index


def ensure_bridge(h: Any, name: str) -> int:
    """The bridge `name`, created when missing, always up; returns its index.

    A new bridge gets a fixed MAC: otherwise it takes the lowest port's, which changes as pods come and go and
    makes every pod's ARP entry for the gateway go stale.
    """
    index = index_of(h, name)
    if index is None:
        try:
            h.link("add", ifname=name, kind="bridge", address=random_mac())
        except NetlinkError as exc:
            if exc.code != 17:  # EEXIST: a concurrent creator won
                raise translate(exc, f"create bridge {name!r}") from None
        index = require_index(h, name)
    set_up(h, index, name)
    return index


def set_up(h: Any, index: int, name: str = "") -> None:
    try:
        h.link("set", index=index, state="up")
    except NetlinkError as exc:
        raise translate(exc, f"set link {name or index} up") from None


def add_veth(
    h: Any, host_name: str, peer_name: str, peer_netns_fd: int, *, master: int, host_mac: str, peer_mac: str
) -> None:
    """One request: a veth pair, host end enslaved to `master` and up, peer created inside the other namespace.

    Raises AlreadyExists when either name is taken (the kernel creates neither end then).
    """
    peer = {"ifname": peer_name, "net_ns_fd": peer_netns_fd, "address": peer_mac}
    try:
        h.link("add", ifname=host_name, kind="veth", address=host_mac, master=master, state="up", peer=peer)
    except NetlinkError as exc:
        raise translate(exc, f"create veth {host_name!r} with peer {peer_name!r}") from None


def random_mac() -> str:
    """A random locally administered unicast MAC (we set it at creation: no read-back request needed)."""
    octets = bytearray(os.urandom(6))
    octets[0] = (octets[0] & 0xFE) | 0x02
    return ":".join(f"{b:02x}" for b in octets)


def attach(h: Any, index: int, master: int, name: str = "") -> None:
    """Enslave the link to the bridge and bring it up in one request."""
    try:
        h.link("set", index=index, master=master, state="up")
    except NetlinkError as exc:
        raise translate(exc, f"attach {name or index} to bridge") from None


def delete_link(h: Any, name: str) -> bool:
    """Delete the link; True when it existed. Missing is success (DEL is idempotent)."""
    try:
        h.link("del", ifname=name)
    except NetlinkError as exc:
        if exc.code in (19, 2):  # ENODEV, ENOENT
            return False
        raise translate(exc, f"delete link {name!r}") from None
    return True


def ports_of(h: Any, bridge_index: int) -> list[str]:
    """Names of the links enslaved to the bridge."""
    return [str(link.get("ifname")) for link in h.get_links() if link.get("master") == bridge_index]


def set_alias(h: Any, name: str, alias: str) -> None:
    """Set IFLA_IFALIAS (the kernel ignores it in the creating request, so it takes one more, by name)."""
    try:
        h.link("set", ifname=name, ifalias=alias[:255])
    except NetlinkError as exc:
        raise translate(exc, f"set alias of {name!r}") from None


def aliased_ports(h: Any, bridge_index: int, prefix: str) -> list[str]:
    """Names of the bridge's ports whose alias starts with `prefix` (the ones a component tagged as its own)."""
    return [
        str(link.get("ifname"))
        for link in h.get_links()
        if link.get("master") == bridge_index and str(link.get("IFLA_IFALIAS") or "").startswith(prefix)
    ]


def link_info(h: Any, name: str) -> dict[str, Any] | None:
    """`{"index", "mac", "master", "up", "kind"}` of a link, or None when it does not exist."""
    try:  # RTM_GETLINK by name: one message (get_links(ifname=) would dump and parse every link)
        found = h.link("get", ifname=name)
    except NetlinkError as exc:
        if exc.code in (19, 2):
            return None
        raise translate(exc, f"get link {name!r}") from None
    link = found[0]
    return {
        "index": int(link["index"]),
        "mac": str(link.get("address") or ""),
        "master": link.get("master"),
        "up": bool(link["flags"] & 1),
        "kind": link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND"),
    }
