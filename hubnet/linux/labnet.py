"""Netlink and namespace primitives the lab needs: named namespaces, an underlay bridge, veths, sysctls.

The lab builds whole topologies out of namespaces. Links, addresses, namespaces (and entering one: `netns.run_in`)
and sysctls go through the shared toolkit (`hubnet.linux.{netns,links,addresses,sysctl}`); what only the lab needs —
AF_INET sockets born in a namespace, reading back addresses, emptying ARP tables — lives here.
Nothing here touches the caller's own namespace unless it is passed `netns=None` explicitly.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from ipaddress import IPv4Interface, IPv6Interface
from typing import Any

from pyroute2 import NetlinkError

from hubnet.linux import addresses, links, netns, sysctl
from hubnet.linux.errors import AlreadyExists, translate


def list_netns(prefix: str) -> list[str]:
    """Names of the named namespaces that start with `prefix`, sorted."""
    return netns.list_named(prefix)


def create_netns(name: str) -> None:
    """Create a named namespace with `lo` up; raises AlreadyExists when the name is taken (the lab never adopts
    a namespace it did not create)."""
    if netns.exists(name):
        raise AlreadyExists(f"netns {name!r} already exists")
    netns.create(name)


def delete_netns(name: str) -> None:
    """Remove a named namespace; a missing one is success (idempotent)."""
    netns.remove(name)


IFA_F_NODAD = 0x02  # an IPv6 address usable at once: no duplicate address detection (the lab owns its underlay)
Interface = IPv4Interface | IPv6Interface


def socket_in(name: str, kind: int = socket.SOCK_STREAM, proto: int = 0, family: int = socket.AF_INET) -> socket.socket:
    """A socket (AF_INET unless `family` says AF_INET6) that lives in namespace `name` (routing, source address and
    all)."""
    try:
        return netns.run_in(name, lambda: socket.socket(family, kind, proto))
    except OSError as exc:
        raise translate(exc, f"open a socket in netns {name!r}") from exc


def set_sysctls(name: str, values: dict[str, str]) -> None:
    """Set `/proc/sys` keys (dotted names) inside namespace `name`; net.* keys are per namespace."""
    netns.run_in(name, lambda: [sysctl.ensure(key, value) for key, value in values.items()])


def add_address(h: Any, index: int, address: Interface, what: str) -> None:
    """One address on a link; IPv6 ones without duplicate address detection, so they work at once."""
    if address.version == 4:
        addresses.add(h, index, address, what)
        return
    try:
        h.addr(
            "add",
            index=index,
            address=str(address.ip),
            prefixlen=address.network.prefixlen,
            family=socket.AF_INET6,
            flags=IFA_F_NODAD,
        )
    except NetlinkError as exc:
        if exc.code != 17:  # EEXIST
            raise translate(exc, f"add address {address} to {what}") from None


def ensure_bridge(name: str, bridge: str, address: Interface | Iterable[Interface]) -> None:
    """A bridge `bridge` in namespace `name`, up, holding `address` (one or several, of either family)."""
    with netns.handle(name) as h:
        index = links.ensure_bridge(h, bridge)
        for item in _many(address):
            add_address(h, index, item, bridge)


def set_multicast_snooping(name: str, bridge: str, on: bool) -> None:
    """Switch IGMP/MLD snooping of `bridge` in namespace `name` on or off (off: every multicast frame is flooded)."""
    with netns.handle(name) as h:
        index = links.require_index(h, bridge)
        try:
            h.link("set", index=index, kind="bridge", br_mcast_snooping=int(on))
        except NetlinkError as exc:
            raise translate(exc, f"set multicast snooping of {bridge!r} in netns {name!r}") from None


def set_link_state(name: str, link: str, up: bool) -> None:
    """Set `link` in namespace `name` up or down (a lab member's cable plugged or pulled)."""
    with netns.handle(name) as h:
        index = links.require_index(h, link)
        try:
            h.link("set", index=index, state="up" if up else "down")
        except NetlinkError as exc:
            raise translate(exc, f"set {link!r} {'up' if up else 'down'} in netns {name!r}") from None


def _many(address: Interface | Iterable[Interface]) -> list[Interface]:
    return [address] if isinstance(address, IPv4Interface | IPv6Interface) else list(address)


def add_uplink(
    router_ns: str, bridge: str, port: str, node_ns: str, uplink: str, address: Interface | Iterable[Interface]
) -> None:
    """A veth from `node_ns` (`uplink`, holding `address`: one or several) to a port `port` of `bridge` in
    `router_ns`."""
    fd = netns.open_fd(node_ns)
    try:
        with netns.handle(router_ns) as h:
            master = links.require_index(h, bridge)
            links.add_veth(h, port, uplink, fd, master=master, host_mac=links.random_mac(), peer_mac=links.random_mac())
    finally:
        os.close(fd)
    with netns.handle(node_ns) as h:
        index = links.require_index(h, uplink)
        for item in _many(address):
            add_address(h, index, item, uplink)
        links.set_up(h, index, uplink)


def ipv4_addresses(name: str, skip: Iterable[str] = ("lo",)) -> dict[str, list[str]]:
    """The IPv4 addresses in namespace `name`, per link name (links in `skip` left out)."""
    with netns.handle(name) as h:
        return _addresses(h, (socket.AF_INET,), skip)


def global_addresses(name: str, skip: Iterable[str] = ("lo",)) -> dict[str, list[str]]:
    """The addresses of both families in namespace `name` that a peer can reach (no IPv6 link-local), per link
    name, IPv4 first."""
    with netns.handle(name) as h:
        return _addresses(h, (socket.AF_INET, socket.AF_INET6), skip)


def _addresses(h: Any, families: Iterable[int], skip: Iterable[str]) -> dict[str, list[str]]:
    """Per link name, the addresses of `families` in that order, scope universe for IPv6 (not fe80::/10)."""
    names = {link["index"]: link.get("ifname") for link in h.link("dump")}
    out: dict[str, list[str]] = {}
    for family in families:
        for addr in h.addr("dump", family=family):
            ifname = names.get(addr["index"], "?")
            if ifname not in skip and (family == socket.AF_INET or addr["scope"] == 0):  # 0: RT_SCOPE_UNIVERSE
                out.setdefault(ifname, []).append(addr.get("address"))
    return out


def delete_addresses(name: str, link: str, addresses_: Iterable[Interface]) -> None:
    """Remove `addresses_` from `link` in namespace `name`; absent ones are success."""
    with netns.handle(name) as h:
        index = links.require_index(h, link)
        for address in addresses_:
            addresses.delete(h, index, address, link)


def live_addresses(name: str, link: str) -> list[str]:
    """The addresses (both families, no IPv6 link-local) of `link` in namespace `name` while the link is up; none
    while it is down or missing (an address on a pulled cable answers nobody)."""
    with netns.handle(name) as h:
        info = links.link_info(h, link)
        if info is None or not info["up"]:
            return []
        found = [str(a.get("address")) for a in h.addr("dump", family=socket.AF_INET, index=info["index"])]
        for addr in h.addr("dump", family=socket.AF_INET6, index=info["index"]):
            if addr["scope"] == 0:  # RT_SCOPE_UNIVERSE: not fe80::/10
                found.append(str(addr.get("address")))
    return found


def flush_neighbours(name: str) -> int:
    """Delete the neighbour entries (ARP and NDP) in namespace `name`; how many. The kernel's neighbour tables are
    shared by all namespaces (gc_thresh3, 1024 by default), so a mesh test empties what it no longer needs."""
    removed = 0
    with netns.handle(name) as h:
        for family in (socket.AF_INET, socket.AF_INET6):
            for entry in h.neigh("dump", family=family):
                if entry.get("NDA_DST", "").startswith("fe80:"):
                    continue  # link-local neighbours are few and refreshed by the kernel itself
                try:
                    h.neigh("del", index=entry["ifindex"], dst=entry.get("NDA_DST"), family=family)
                    removed += 1
                except NetlinkError:
                    continue  # already gone (expired meanwhile)
    return removed
