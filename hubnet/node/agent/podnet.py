"""The netlink half of a pod attachment: a veth pair, pod end in the pod netns with one address per family the node
has a subnet of, and a default route per family.

The default route of a family goes to the first attachment of a pod netns only: it is created exclusively, so a
netns that already has one (a second interface, Multus-style) keeps it — as the bridge plugin without
`isDefaultGateway`.

IPv6 is usable the moment ADD returns: the pod interface gets `accept_dad=0` (and `disable_ipv6=0`) before it is
brought up, so its link-local address skips duplicate address detection, and its address is added with
IFA_F_NODAD — as the reference bridge plugin, which sets accept_dad=0 too. Pod addresses come from the node's own
IPAM store of a subnet no other node has: a duplicate cannot happen, so DAD's ~1 s of `tentative` buys nothing.

On a node with an IPv6 subnet the host end gets `disable_ipv6=1`: a bridge port is a layer-2 port (the bridge
forwards IPv6 frames whatever its ports' own IPv6 state), and with IPv6 forwarding on — which such a node needs —
an IPv6-enabled port is a router interface whose removal costs the kernel ~16 ms more (router anycast and
multicast memberships): deleting a veth took 36 ms instead of 20. Both settings are skipped where /proc/sys is
read-only (an unprivileged container: the docker-compose lab's nodes, `sysctl.tune`).

Host-side veth names are derived from (containerID, ifname), so DEL, GC and the start-up sweep find them with no
other record. Each host end also carries the alias `hubnet:<containerID>/<ifname>`: sweeps only ever delete ports
with that tag, never another component's `veth…` on the bridge.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import socket
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from ipaddress import ip_interface
from typing import Any

from hubnet.linux import addresses, links, netns, node_routes, rtnl, sysctl
from hubnet.linux.addresses import Interface
from hubnet.linux.errors import AlreadyExists, LinuxError, NotFound
from hubnet.net import Address, gateway
from hubnet.node.agent import faults
from hubnet.node.agent.state import NodeNetwork


def host_veth(container_id: str, ifname: str) -> str:
    """`veth` + 11 hex digits of a hash of the attachment (15 characters, the kernel's limit)."""
    return "veth" + hashlib.sha1(f"{container_id}/{ifname}".encode()).hexdigest()[:11]


TAG = "hubnet:"


def tag(container_id: str, ifname: str) -> str:
    """The alias a hubnet host veth carries (also tells an operator which attachment it belongs to)."""
    return f"{TAG}{container_id}/{ifname}"


@dataclass(frozen=True)
class PodAddress:
    """One family's part of an attachment: the pod's address (with the subnet's prefix) and its gateway."""

    address: Interface
    gateway: Address


@dataclass(frozen=True)
class Attached:
    host: str
    host_mac: str
    pod_mac: str
    # The families whose default route ADD installed; a family missing: the netns had a default route of it already
    # (a secondary attachment).
    default_routes: frozenset[int]


class InterfaceExists(LinuxError):
    """ADD for an interface that is already in the pod netns (the spec says: error)."""


def attach(
    *,
    netns_path: str,
    ifname: str,
    host: str,
    alias: str,
    bridge_index: int,
    pod_addresses: Sequence[PodAddress],
) -> Attached:
    """Create, tag and wire the veth pair; on any failure the pair is removed again.

    Raw netlink, four round trips: the pair made whole (pod end created in the pod netns, MACs preset, host end
    enslaved and up); the host end's alias (the kernel ignores it at creation); the pod end's index; then one batch
    in the pod netns — link up (after the no-DAD sysctls of a dual-stack pod), an address and a default route per
    family — with one acknowledgement. Raises InterfaceExists when `ifname` is taken in the pod netns, LinuxError
    naming the failed step otherwise.
    """
    host_mac, pod_mac = links.random_mac(), links.random_mac()
    has_ipv6 = any(p.address.version == 6 for p in pod_addresses)
    with rtnl.Socket() as node, ExitStack() as undo:
        _create_pair(node, netns_path, ifname, host, host_mac, bridge_index, pod_mac)
        undo.callback(_remove_pair, node, host)
        node.run([rtnl.set_alias(host, alias)])
        if has_ipv6:  # the agent runs in the node netns: a plain /proc/sys write
            sysctl.tune(sysctl.interface(6, host, "disable_ipv6"), "1")
        faults.point("add", "after-veth")
        pod = rtnl.Socket(netns_path, sock=netns.run_in(netns_path, functools.partial(_pod_socket, ifname, has_ipv6)))
        undo.callback(pod.close)
        pod_index = pod.index_of(ifname)
        if pod_index is None:
            raise NotFound(f"interface {ifname!r} is missing in netns {netns_path!r} right after its creation")
        faults.point("add", "after-move")
        routes = _configure_pod(pod, pod_index, ifname, pod_addresses)
        faults.point("add", "after-address")
        undo.pop_all()
        pod.close()
    return Attached(host, host_mac, pod_mac, routes)


def _create_pair(
    node: rtnl.Socket, netns_path: str, ifname: str, host: str, host_mac: str, bridge: int, pod_mac: str
) -> None:
    fd = netns.open_fd(netns_path)
    try:
        node.run([rtnl.new_veth(host, host_mac, bridge, ifname, pod_mac, fd)])
    except AlreadyExists:
        with rtnl.Socket(netns_path) as pod:
            if pod.index_of(ifname) is not None:
                raise InterfaceExists(f"interface {ifname!r} already exists in netns {netns_path!r}") from None
        raise
    finally:
        os.close(fd)


def _remove_pair(node: rtnl.Socket, host: str) -> None:
    node.run([rtnl.delete_link(host)], tolerate=(errno.ENODEV, errno.ENOENT))


def _pod_socket(ifname: str, has_ipv6: bool) -> socket.socket:
    """Run inside the pod netns (one trip there): the no-DAD sysctls of a dual-stack pod's interface, and the
    netlink socket for the rest of the ADD."""
    if has_ipv6:
        _ipv6_without_dad(ifname)
    return netns.netlink_socket(None)


def _configure_pod(pod: rtnl.Socket, index: int, ifname: str, pod_addresses: Sequence[PodAddress]) -> frozenset[int]:
    """One batch: link up, each address (one already there is fine), each family's default route
    (created exclusively: a netns that has one keeps it). Returns the families whose route was created."""
    messages = [rtnl.set_up(index, ifname)]
    for p in pod_addresses:
        a = p.address
        broadcast = a.network.broadcast_address.packed if a.version == 4 and a.network.prefixlen < 31 else None
        what = f"add address {a} to {ifname}"
        messages.append(rtnl.add_address(index, a.version, a.ip.packed, a.network.prefixlen, broadcast, what))
    first_route = len(messages)
    for p in pod_addresses:
        what = f"add route {node_routes.default(p.address.version)} via {p.gateway}"
        messages.append(rtnl.add_default_route(index, p.address.version, p.gateway.packed, what))
    codes = pod.run(messages, tolerate=(errno.EEXIST,))
    return frozenset(
        p.address.version for p, code in zip(pod_addresses, codes[first_route:], strict=True) if code != errno.EEXIST
    )


def _ipv6_without_dad(ifname: str) -> None:
    """Run inside the pod netns, before the interface is up: IPv6 on, no duplicate address detection.

    With /proc/sys read-only (an unprivileged container) IPv6 is on anyway unless the netns's default says
    otherwise, and only the link-local address goes through DAD: the pod's addresses are added with IFA_F_NODAD.
    """
    sysctl.ensure(sysctl.interface(6, ifname, "disable_ipv6"), "0")
    sysctl.tune(sysctl.interface(6, ifname, "accept_dad"), "0")


def detach(host: str) -> bool:
    """Delete the host end (the kernel removes the pod end with it); True when it existed. Returns once the kernel
    has unlisted both ends (`links.delete_until_unlisted`: its ~15 ms of teardown after that are not waited for)."""
    return links.delete_until_unlisted(host)


def check(
    *,
    netns_path: str,
    ifname: str,
    host: str,
    bridge: str,
    pod_addresses: Sequence[PodAddress],
    default_routes: dict[int, bool] | None,
) -> None:
    """Raise LinuxError naming the first thing an ADD created that is missing or wrong.

    `default_routes` per family: True — the default route via the gateway must leave through `ifname` (ADD
    installed it); False — not checked (a secondary attachment installed none); None (unknown: no prevResult) —
    the netns must have a default route via the gateway, through any interface.
    """
    with netns.handle() as node:
        info = links.link_info(node, host)
        bridge_index = links.index_of(node, bridge)
        if info is None:
            raise NotFound(f"host veth {host!r} is missing")
        if bridge_index is None or info["master"] != bridge_index:
            raise LinuxError(f"host veth {host!r} is not attached to bridge {bridge!r}")
    with netns.handle(netns_path) as pod:
        index = links.index_of(pod, ifname)
        if index is None:
            raise NotFound(f"interface {ifname!r} is missing in netns {netns_path!r}")
        for p in pod_addresses:
            if p.address not in addresses.list_family(pod, index, p.address.version):
                raise NotFound(f"address {p.address} is missing on {ifname!r} in netns {netns_path!r}")
        for p in pod_addresses:
            expected = None if default_routes is None else default_routes.get(p.address.version, False)
            _check_default_route(pod, netns_path, ifname, index, p.gateway, expected)


def _check_default_route(
    pod: Any, netns_path: str, ifname: str, index: int, gateway: Address, expected: bool | None
) -> None:
    dst = node_routes.default(gateway.version)
    if expected and not node_routes.has(pod, dst, gateway, index):
        raise NotFound(f"default route via {gateway} dev {ifname!r} is missing in netns {netns_path!r}")
    if expected is None and node_routes.gateway_of(pod, dst) != gateway:
        raise NotFound(f"default route via {gateway} is missing in netns {netns_path!r}")


@dataclass
class Swept:
    removed: list[str]
    errors: list[str]


def sweep(bridge: str, keep: set[str]) -> Swept:
    """Delete every port of the bridge tagged as hubnet's (alias `hubnet:…`) and not named in `keep` (leaks).

    Goes on after a failed delete and reports every error.
    """
    out = Swept([], [])
    with netns.handle() as node:
        index = links.index_of(node, bridge)
        if index is None:
            return out
        for name in links.aliased_ports(node, index, TAG):
            if name in keep:
                continue
            try:
                if links.delete_link(node, name):
                    out.removed.append(name)
            except LinuxError as exc:
                out.errors.append(str(exc))
    return out


def bridge_info(bridge: str) -> tuple[int, str]:
    """(index, MAC) of the bridge; raises NotFound when it is missing."""
    with netns.handle() as node:
        info = links.link_info(node, bridge)
    if info is None:
        raise NotFound(f"bridge {bridge!r} does not exist")
    return int(info["index"]), str(info["mac"])


def gateway_interface(subnet: Any) -> Interface:
    """The gateway with its subnet's prefix, as the bridge carries it (10.244.1.1/24, fd00:10:244:1::1/64)."""
    return ip_interface(f"{gateway(subnet)}/{subnet.prefixlen}")


def bridge_has(bridge: str, network: NodeNetwork) -> bool:
    """True when the bridge exists and carries the node's gateway address of every family."""
    with netns.handle() as node:
        index = links.index_of(node, bridge)
        return index is not None and all(
            gateway_interface(s) in addresses.list_family(node, index, s.version) for s in network.subnets
        )
