"""Links: the node bridge and pod veth pairs. `ensure_*` creates or verifies; `delete_*` treats missing as success."""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import threading
from typing import Any

from pyroute2 import NetlinkError

from hubnet.linux import rtnl
from hubnet.linux.errors import LinuxError, NotFound, translate
from hubnet.linux.netns import netlink_socket


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


def delete_until_unlisted(name: str, timeout: float = 30.0) -> bool:
    """Delete link `name` of the caller's namespace (a veth: both ends); True once the kernel has unlisted it,
    False when there was none. Raises LinuxError naming the link when the kernel refuses.

    Deleting a veth takes the kernel 16-20 ms, nearly all of it after the link is gone: with RTNL already released
    it waits for RCU callbacks (rcu_barrier in netdev_run_todo) before freeing the device, inside the deleting
    request. The kernel announces the deletion (RTM_DELLINK to RTNLGRP_LINK) once both ends are unlisted, closed, off
    the bridge and their names free, ~1 ms in. So the request is sent by a worker thread and this returns at
    that announcement (or at the request's answer, whichever comes first: an error is always answered before);
    the worker waits out the kernel's remaining teardown in the background (non-daemon: the process waits for it
    at exit).
    """
    monitor = netlink_socket(None)
    try:
        monitor.bind((0, rtnl.RTMGRP_LINK))  # subscribed before the request: the announcement cannot be missed
    except OSError as exc:
        monitor.close()
        raise LinuxError(f"failed to delete link {name!r}: cannot watch link events: {exc}", errno=exc.errno) from None
    wake_r, wake_w = os.pipe()
    answer: list[int | LinuxError] = []

    def delete() -> None:
        try:
            with rtnl.Socket() as sock:
                answer.append(sock.batch([rtnl.delete_link(name)])[0])
        except LinuxError as exc:
            answer.append(exc)
        finally:
            with contextlib.suppress(OSError):  # the caller returned at the announcement and closed its end
                os.write(wake_w, b"x")
            os.close(wake_w)

    try:
        threading.Thread(target=delete, name="hubnet-link-delete").start()
        if _wait_unlisted(monitor, wake_r, name.encode() + b"\0", timeout):
            return True
    finally:
        monitor.close()
        os.close(wake_r)
    code = answer[0]  # the worker answered before it woke us
    if isinstance(code, LinuxError):
        raise code
    if code in (errno.ENODEV, errno.ENOENT):
        return False
    if code:
        raise translate(code, f"delete link {name!r}")
    return True


def _wait_unlisted(monitor: socket.socket, wake: int, name: bytes, timeout: float) -> bool:
    """True at the kernel's RTM_DELLINK announcement of link `name`; False once `wake` is readable (the request
    was answered first)."""
    buf = bytearray(64 << 10)
    watched: list[socket.socket | int] = [monitor, wake]
    while True:
        readable, _, _ = select.select(watched, [], [], timeout)
        if not readable:
            raise LinuxError(f"failed to delete link {name[:-1].decode()!r}: no answer in {timeout:.0f}s")
        if wake in readable:
            return False
        try:
            size = monitor.recv_into(buf)
        except OSError:  # ENOBUFS (a burst of link events): wait for the request's own answer instead
            watched = [wake]
            continue
        if _announces_deletion(buf, size, name):
            return True


def _announces_deletion(buf: bytearray, size: int, name: bytes) -> bool:
    offset = 0
    while offset + 32 <= size:
        length, kind, _, _, _ = rtnl.HDR.unpack_from(buf, offset)
        if length < 16:
            return False
        if kind == rtnl.RTM_DELLINK and buf[offset + 16] == socket.AF_UNSPEC:  # not the bridge's AF_BRIDGE port notice
            pos, end = offset + 32, min(offset + length, size)
            while pos + 4 <= end:
                alen, atype = rtnl.ATTR.unpack_from(buf, pos)
                if alen < 4:
                    break
                if atype & 0x3FFF == rtnl.IFLA_IFNAME:
                    if bytes(buf[pos + 4 : pos + alen]) == name:
                        return True
                    break
                pos += (alen + 3) & ~3
        offset += (length + 3) & ~3
    return False
