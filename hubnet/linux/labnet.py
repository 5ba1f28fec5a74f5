"""Netlink and namespace primitives the lab needs: named namespaces, an underlay bridge, veths, sysctls.

The lab builds whole topologies out of namespaces; these helpers keep every kernel call behind pyroute2
(one handle per namespace, no `ip` process per operation) and translate netlink errors once, here.
Nothing here touches the caller's own namespace unless it is passed `netns=None` explicitly.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pyroute2 import NetlinkError, netns

from hubnet.linux.errors import AlreadyExists, LinuxError, NotFound
from hubnet.linux.handle import ipr, translate

T = TypeVar("T")
NETNS_DIR = "/var/run/netns"


def netns_path(name: str) -> str:
    return os.path.join(NETNS_DIR, name)


def list_netns(prefix: str) -> list[str]:
    """Names of the named namespaces that start with `prefix`, sorted."""
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.startswith(prefix))


def create_netns(name: str) -> None:
    """Create a named namespace with `lo` up; raises AlreadyExists when the name is taken."""
    if os.path.exists(netns_path(name)):
        raise AlreadyExists(f"netns {name!r} already exists")
    try:
        netns.create(name)
    except OSError as exc:
        raise translate(exc, f"create netns {name!r}") from exc
    with ipr(name) as h:
        h.link("set", index=h.link_lookup(ifname="lo")[0], state="up")


def delete_netns(name: str) -> None:
    """Remove a named namespace; a missing one is success (idempotent)."""
    if not os.path.exists(netns_path(name)):
        return
    try:
        netns.remove(name)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise translate(exc, f"delete netns {name!r}") from exc


def run_in_netns(name: str, fn: Callable[[], T]) -> T:
    """Run `fn` on a short-lived thread that has entered namespace `name`.

    setns(CLONE_NEWNET) is per thread, so the calling process and its other threads stay where they are.
    Sockets created by `fn` keep the namespace they were created in after the thread ends.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            netns.setns(name, flags=0)
            box["value"] = fn()
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        error = box["error"]
        if isinstance(error, OSError) and not isinstance(error, ConnectionError | TimeoutError):
            raise translate(error, f"run in netns {name!r}") from error
        raise error
    value: T = box["value"]
    return value


def socket_in(name: str, kind: int = socket.SOCK_STREAM, proto: int = 0) -> socket.socket:
    """An AF_INET socket that lives in namespace `name` (routing, source address and all)."""
    return run_in_netns(name, lambda: socket.socket(socket.AF_INET, kind, proto))


def set_sysctls(name: str, values: dict[str, str]) -> None:
    """Write `/proc/sys` keys (dotted names) inside namespace `name`; net.* keys are per namespace."""

    def write() -> None:
        for key, value in values.items():
            with open("/proc/sys/" + key.replace(".", "/"), "w") as fh:
                fh.write(value)

    run_in_netns(name, write)


def ensure_bridge(name: str, bridge: str, address: str, prefixlen: int) -> None:
    """A bridge `bridge` in namespace `name`, up, holding `address/prefixlen`."""
    with ipr(name) as h:
        try:
            if not h.link_lookup(ifname=bridge):
                h.link("add", ifname=bridge, kind="bridge")
            index = h.link_lookup(ifname=bridge)[0]
            if not any(a.get("address") == address for a in h.addr("dump", index=index)):
                h.addr("add", index=index, address=address, prefixlen=prefixlen)
            h.link("set", index=index, state="up")
        except NetlinkError as exc:
            raise translate(exc, f"set up bridge {bridge!r} in netns {name!r}") from exc


def add_uplink(
    router_ns: str, bridge: str, port: str, node_ns: str, uplink: str, address: str, prefixlen: int, mtu: int
) -> None:
    """A veth from `node_ns` (`uplink`, holding `address`) to a port `port` of `bridge` in `router_ns`."""
    with ipr(router_ns) as h:
        try:
            h.link("add", ifname=port, kind="veth", mtu=mtu, peer={"ifname": uplink, "net_ns_fd": node_ns, "mtu": mtu})
            master = h.link_lookup(ifname=bridge)[0]
            h.link("set", index=h.link_lookup(ifname=port)[0], master=master, state="up")
        except NetlinkError as exc:
            raise translate(exc, f"add veth {port!r} <-> {node_ns}/{uplink}") from exc
    with ipr(node_ns) as h:
        try:
            index = h.link_lookup(ifname=uplink)[0]
            h.addr("add", index=index, address=address, prefixlen=prefixlen)
            h.link("set", index=index, state="up")
        except NetlinkError as exc:
            raise translate(exc, f"configure {uplink!r} in netns {node_ns!r}") from exc


def ipv4_addresses(name: str, skip: Iterable[str] = ("lo",)) -> dict[str, list[str]]:
    """The IPv4 addresses in namespace `name`, per link name (links in `skip` left out)."""
    with ipr(name) as h:
        names = {link["index"]: link.get("ifname") for link in h.link("dump")}
        out: dict[str, list[str]] = {}
        for addr in h.addr("dump", family=socket.AF_INET):
            ifname = names.get(addr["index"], "?")
            if ifname not in skip:
                out.setdefault(ifname, []).append(addr.get("address"))
    return out


def links(name: str | None) -> list[str]:
    """The link names in namespace `name` (None: the caller's own namespace — read only)."""
    try:
        with ipr(name) as h:
            return sorted(str(link.get("ifname")) for link in h.link("dump"))
    except NotFound:
        return []
    except (NetlinkError, OSError) as exc:
        raise LinuxError(f"failed to list links in netns {name!r}: {exc}") from exc


def flush_neighbours(name: str) -> int:
    """Delete the IPv4 neighbour (ARP) entries in namespace `name`; how many. The kernel's ARP table is shared by
    all namespaces (gc_thresh3, 1024 by default), so a mesh test empties what it no longer needs."""
    removed = 0
    with ipr(name) as h:
        for entry in h.neigh("dump", family=socket.AF_INET):
            dst = entry.get("NDA_DST")
            try:
                h.neigh("del", index=entry["ifindex"], dst=dst, family=socket.AF_INET)
                removed += 1
            except NetlinkError:
                continue  # already gone (expired meanwhile)
    return removed
