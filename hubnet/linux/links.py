"""Links: the node bridge and pod veth pairs. `ensure_*` creates or verifies; `delete_*` treats missing as success."""

from __future__ import annotations

from typing import Any

from pyroute2 import NetlinkError

from hubnet.linux.errors import NotFound
from hubnet.linux.handle import translate


def index_of(h: Any, name: str) -> int | None:
    found = h.link_lookup(ifname=name)
    return int(found[0]) if found else None


def require_index(h: Any, name: str) -> int:
    index = index_of(h, name)
    if index is None:
        raise NotFound(f"link {name!r} does not exist")
    return index


def ensure_bridge(h: Any, name: str) -> int:
    """The bridge `name`, created when missing, always up; returns its index."""
    index = index_of(h, name)
    if index is None:
        try:
            h.link("add", ifname=name, kind="bridge")
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


def add_veth(h: Any, host_name: str, peer_name: str, peer_netns_fd: int) -> int:
    """A veth pair whose peer is created directly inside another namespace; returns the host end's index."""
    try:
        h.link("add", ifname=host_name, kind="veth", peer={"ifname": peer_name, "net_ns_fd": peer_netns_fd})
    except NetlinkError as exc:
        err = translate(exc, f"create veth {host_name!r} with peer {peer_name!r}")
        raise err from None
    return require_index(h, host_name)


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
