"""Build and tear down the lab's namespaces: a router with the underlay bridge, nodes wired to it, pod namespaces;
in the HA lab a switch namespace holds the bridge and routers, controllers and the database are wired to it too.

Nothing is created in the root namespace: the underlay bridge lives in the router (or switch) namespace and each
member's veth has both ends inside lab namespaces, so deleting the namespaces removes every link with them.
"""

from __future__ import annotations

import errno
from ipaddress import IPv4Interface, IPv6Interface

from hubnet.lab.plan import (
    CONTROLLER_ADDRESS,
    CONTROLLER_ADDRESS6,
    CONTROLLER_PORT_LINK,
    NODE_UPLINK,
    ROUTER_ADDRESS,
    ROUTER_ADDRESS6,
    UNDERLAY,
    UNDERLAY6,
    UNDERLAY_BRIDGE,
    LabPlan,
    MemberPlan,
    NodePlan,
)
from hubnet.linux import labnet
from hubnet.linux.errors import LinuxError

# Why each sysctl: the router forwards between nodes on one bridge, so the kernel would answer routed packets
# with (rate-limited) ICMP redirects: wasted work; and no node should ever take a route around the router from an
# ICMP message. Reverse-path filtering
# costs a FIB lookup per packet and buys nothing on a lab underlay. br_netfilter (when loaded) would send every
# bridged frame through the iptables hooks; nothing in the lab filters bridged traffic. Promoting secondaries, as
# systemd sets on every host it boots (sysctl.d/50-default.conf): renumbering a node (add the new address, move the
# route, remove the old one, docs/node.md) removes the primary address, and without promotion the kernel removes
# every secondary of its subnet with it — the new address included.
_COMMON = {
    "net.ipv4.ip_forward": "1",
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.default.send_redirects": "0",
    "net.ipv4.conf.all.accept_redirects": "0",
    "net.ipv4.conf.default.accept_redirects": "0",
    "net.ipv4.conf.all.promote_secondaries": "1",
    "net.ipv4.conf.default.promote_secondaries": "1",
}
# IPv6: the router forwards, no namespace takes a route from a redirect or an advertisement (the lab's routes are
# hubnet's), and addresses are added without duplicate address detection (labnet.add_address).
_COMMON6 = {
    "net.ipv6.conf.all.forwarding": "1",
    "net.ipv6.conf.all.accept_redirects": "0",
    "net.ipv6.conf.default.accept_redirects": "0",
    "net.ipv6.conf.all.accept_ra": "0",
    "net.ipv6.conf.default.accept_ra": "0",
}
_BRIDGE_NF = {
    "net.bridge.bridge-nf-call-iptables": "0",
    "net.bridge.bridge-nf-call-ip6tables": "0",
    "net.bridge.bridge-nf-call-arptables": "0",
}


def tune(netns: str, families: tuple[int, ...] = (4,)) -> None:
    """Apply the lab's sysctls inside `netns` (bridge-netfilter keys only where the module is loaded)."""
    labnet.set_sysctls(netns, _COMMON)
    if 6 in families:
        labnet.set_sysctls(netns, _COMMON6)
    _bridge_nf(netns)


def _bridge_nf(netns: str) -> None:
    try:
        labnet.set_sysctls(netns, _BRIDGE_NF)
    except LinuxError as exc:
        if exc.errno != errno.ENOENT:
            raise  # ENOENT: br_netfilter not loaded, no hooks to switch off


def build_router(plan: LabPlan) -> None:
    """The router namespace: forwarding on, the underlay bridge holding 192.168.1.1/24 and fd00:192:168:1::1/64
    (the lab's families)."""
    labnet.create_netns(plan.router_netns)
    tune(plan.router_netns, plan.families)
    labnet.ensure_bridge(plan.router_netns, UNDERLAY_BRIDGE, _underlay(plan.families, ROUTER_ADDRESS, ROUTER_ADDRESS6))


def build_node(plan: LabPlan, node: NodePlan) -> None:
    """A node namespace whose uplink (192.168.1.1x/24, fd00:192:168:1::1x/64) is a port of the underlay bridge (in
    the router namespace, or the switch's in an HA lab)."""
    labnet.create_netns(node.netns)
    tune(node.netns, plan.families)
    address = _underlay(plan.families, node.address, node.address6)
    labnet.add_uplink(plan.switch_netns, UNDERLAY_BRIDGE, node.router_port, node.netns, NODE_UPLINK, address)


# A VRRP router's IPv6 adverts leave from its link-local address, and the virtual address must answer at once on
# takeover: no duplicate address detection on the routers (the lab owns its underlay). A router whose cable is
# pulled keeps its configured IPv6 address, as it keeps its IPv4 one (Linux drops IPv6 addresses with the link by
# default): without it, the router comes back unable to reach any node over IPv6.
ROUTER_SYSCTLS6 = {
    "net.ipv6.conf.all.accept_dad": "0",
    "net.ipv6.conf.default.accept_dad": "0",
    "net.ipv6.conf.all.keep_addr_on_down": "1",
    "net.ipv6.conf.default.keep_addr_on_down": "1",
}


def build_switch(plan: LabPlan) -> None:
    """The HA lab's switch: a namespace holding only the underlay bridge, without an address, flooding multicast
    (VRRP adverts, neighbour solicitations) to every port rather than trusting snooping to have seen every join."""
    labnet.create_netns(plan.switch_netns)
    _bridge_nf(plan.switch_netns)
    labnet.ensure_bridge(plan.switch_netns, UNDERLAY_BRIDGE, [])
    labnet.set_multicast_snooping(plan.switch_netns, UNDERLAY_BRIDGE, False)


def build_member(plan: LabPlan, member: MemberPlan, router: bool) -> None:
    """An HA lab member's namespace with its uplink on the switch: a router forwards like the plain lab's router
    (and skips duplicate address detection); a controller or the database forwards nothing."""
    labnet.create_netns(member.netns)
    if router:
        if 6 in plan.families:
            labnet.set_sysctls(member.netns, ROUTER_SYSCTLS6)
        tune(member.netns, plan.families)
    elif 6 in plan.families:
        labnet.set_sysctls(member.netns, {k: v for k, v in _COMMON6.items() if "forwarding" not in k})
    address = _underlay(plan.families, member.address, member.address6)
    labnet.add_uplink(plan.switch_netns, UNDERLAY_BRIDGE, member.port, member.netns, NODE_UPLINK, address)


def build_controller(plan: LabPlan) -> None:
    """A BGP lab's controller namespace: one uplink on the underlay bridge (192.168.1.2/24, fd00:192:168:1::2/64),
    like a node without pods. It forwards nothing, so it needs no sysctl but the IPv6 ones (no route from an
    advertisement)."""
    labnet.create_netns(plan.controller_netns)
    if 6 in plan.families:
        labnet.set_sysctls(plan.controller_netns, {k: v for k, v in _COMMON6.items() if "forwarding" not in k})
    address = _underlay(plan.families, CONTROLLER_ADDRESS, CONTROLLER_ADDRESS6)
    labnet.add_uplink(
        plan.router_netns, UNDERLAY_BRIDGE, CONTROLLER_PORT_LINK, plan.controller_netns, NODE_UPLINK, address
    )


def _underlay(families: tuple[int, ...], v4: object, v6: object) -> list[IPv4Interface | IPv6Interface]:
    """The underlay addresses of one lab member, of the lab's families."""
    found: list[IPv4Interface | IPv6Interface] = []
    if 4 in families:
        found.append(IPv4Interface(f"{v4}/{UNDERLAY.prefixlen}"))
    if 6 in families and v6 is not None:
        found.append(IPv6Interface(f"{v6}/{UNDERLAY6.prefixlen}"))
    return found


def lab_namespaces(prefix: str) -> list[str]:
    """Every namespace of a lab, pods first, then nodes (and HA members), the router or switch last (the order
    `down` deletes them)."""
    names = labnet.list_netns(prefix)
    rank = {"router": 2, "sw": 2}
    return sorted(names, key=lambda n: (rank.get(n[len(prefix) :], 1 if "-pod-" not in n else 0), n))


def destroy(prefix: str) -> list[str]:
    """Delete every namespace named `prefix…` (and with them every link inside); the names removed."""
    names = lab_namespaces(prefix)
    for name in names:
        labnet.delete_netns(name)
    return names
