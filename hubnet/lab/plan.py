"""The lab's topology as pure data: names and addresses for a router, N nodes and M pods per node.

Everything the lab creates is named `hnlab-<name>-…`; a lab name has no dash, so the prefix of one lab never
matches another's (`hnlab-lab-` vs `hnlab-lab2-`). docker-compose.yml uses the same addresses (a test checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from hubnet.net import Address, Network

PREFIX = "hnlab-"
UNDERLAY = IPv4Network("192.168.1.0/24")
ROUTER_ADDRESS = IPv4Address("192.168.1.1")
FIRST_NODE_HOST = 11  # node-1 is 192.168.1.11, node-2 .12, ...
CONTROLLER_PORT = 6780
CLUSTER_CIDR = IPv4Network("10.244.0.0/16")
NODE_PREFIX = 24
# The IPv6 side (dual-stack by default): a ULA underlay and pod network, /64 per node as Kubernetes does.
UNDERLAY6 = IPv6Network("fd00:192:168:1::/64")
ROUTER_ADDRESS6 = IPv6Address("fd00:192:168:1::1")
CLUSTER_CIDR6 = IPv6Network("fd00:10:244::/56")
NODE_PREFIX_V6 = 64
FAMILIES = (4, 6)
# `--router`: "kernel" (default) runs the controller on the router with the kernel route backend; "bird" and "frr"
# run that BGP daemon on the router and the controller in a namespace of its own on the underlay (bgp backend).
ROUTER_KINDS = ("kernel", "bird", "frr")
CONTROLLER_ADDRESS = IPv4Address("192.168.1.2")  # the controller's own namespace (BGP labs only)
CONTROLLER_ADDRESS6 = IPv6Address("fd00:192:168:1::2")
CONTROLLER_PORT_LINK = "hnlab-ctl"  # its port on the underlay bridge
BGP_ASN = 64512  # iBGP: the router and the controller's speaker share one private ASN
BGP_PORT = 179
UNDERLAY_BRIDGE = "hnlab-br0"  # in the router namespace
NODE_UPLINK = "hnlab-up0"  # in each node namespace
POD_BRIDGE = "v-net-0"
MAX_NODES = 200
MAX_PODS = 250
_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")


class PlanError(ValueError):
    """The requested lab cannot be built (bad name, too many nodes or pods)."""


@dataclass(frozen=True)
class PodPlan:
    name: str
    netns: str


@dataclass(frozen=True)
class NodePlan:
    index: int
    name: str
    netns: str
    address: IPv4Address
    router_port: str  # the node's port on the underlay bridge, in the router namespace
    pods: tuple[PodPlan, ...]
    address6: IPv6Address | None = None
    families: tuple[int, ...] = (4,)

    @property
    def addresses(self) -> list[Address]:
        """The node's underlay addresses of the lab's families, IPv4 first."""
        both: dict[int, Address | None] = {4: self.address, 6: self.address6}
        return [a for f in self.families if (a := both[f]) is not None]


@dataclass(frozen=True)
class LabPlan:
    name: str
    router_netns: str
    nodes: tuple[NodePlan, ...]
    families: tuple[int, ...] = (4,)
    router: str = "kernel"  # one of ROUTER_KINDS

    @property
    def prefix(self) -> str:
        return lab_prefix(self.name)

    @property
    def router_address(self) -> Address:
        """Where the controller listens: the router's IPv4 address, or its IPv6 one in an IPv6-only lab."""
        return ROUTER_ADDRESS if 4 in self.families else ROUTER_ADDRESS6

    @property
    def router_addresses(self) -> list[Address]:
        both: dict[int, Address] = {4: ROUTER_ADDRESS, 6: ROUTER_ADDRESS6}
        return [both[f] for f in self.families]

    @property
    def cluster_cidrs(self) -> list[Network]:
        both: dict[int, Network] = {4: CLUSTER_CIDR, 6: CLUSTER_CIDR6}
        return [both[f] for f in self.families]

    @property
    def bgp(self) -> bool:
        """The router is a BGP daemon (BIRD or FRR) and the controller a BGP speaker in its own namespace."""
        return self.router != "kernel"

    @property
    def controller_netns(self) -> str:
        """Where the controller runs: the router's namespace (kernel backend) or its own (`hnlab-<name>-ctl`)."""
        return f"{self.prefix}ctl" if self.bgp else self.router_netns

    @property
    def controller_addresses(self) -> list[Address]:
        if not self.bgp:
            return self.router_addresses
        both: dict[int, Address] = {4: CONTROLLER_ADDRESS, 6: CONTROLLER_ADDRESS6}
        return [both[f] for f in self.families]

    @property
    def controller_address(self) -> Address:
        """Where the controller listens (HTTP, and BGP in a BGP lab): IPv4 unless the lab is IPv6-only."""
        return self.controller_addresses[0]

    @property
    def controller_url(self) -> str:
        host = str(self.controller_address)
        return f"http://{host if 4 in self.families else f'[{host}]'}:{CONTROLLER_PORT}"

    @property
    def bgp_listen(self) -> str:
        """HUBNET_BGP_LISTEN of the controller: its own underlay address (one session carries both families)."""
        host = str(self.controller_address)
        return f"{host if 4 in self.families else f'[{host}]'}:{BGP_PORT}"

    def node(self, name: str) -> NodePlan:
        for node in self.nodes:
            if node.name == name:
                return node
        raise PlanError(f"no node {name!r} in lab {self.name!r}")


def validate_name(name: str) -> str:
    if not _NAME.match(name):
        raise PlanError(f"invalid lab name {name!r}: 1-12 characters a-z0-9, starting with a letter, no dashes")
    return name


def lab_prefix(name: str) -> str:
    """The prefix of every namespace of lab `name` (`hnlab-lab-`)."""
    return f"{PREFIX}{validate_name(name)}-"


def node_address(index: int) -> IPv4Address:
    """The underlay address of node `index` (1-based): 192.168.1.11, .12, ..."""
    return UNDERLAY.network_address + FIRST_NODE_HOST - 1 + index


def node_address6(index: int) -> IPv6Address:
    """The IPv6 underlay address of node `index`: fd00:192:168:1::11, ::12, ... (hex, same digits as IPv4 up to 9)."""
    return UNDERLAY6.network_address + 0x10 + index


def check_families(families: tuple[int, ...]) -> tuple[int, ...]:
    if not families or any(f not in FAMILIES for f in families) or len(set(families)) != len(families):
        raise PlanError(f"address families must be (4,), (6,) or (4, 6), got {families}")
    return tuple(sorted(families))


def pod_plan(lab: str, node_index: int, pod_index: int) -> PodPlan:
    name = f"n{node_index}-pod-{pod_index}"
    return PodPlan(name=name, netns=f"{lab_prefix(lab)}{name}")


def node_plan(lab: str, index: int, pods: int, families: tuple[int, ...] = FAMILIES) -> NodePlan:
    return NodePlan(
        index=index,
        name=f"node-{index}",
        netns=f"{lab_prefix(lab)}node-{index}",
        address=node_address(index),
        router_port=f"hnlab-n{index}",
        pods=tuple(pod_plan(lab, index, j) for j in range(1, pods + 1)),
        address6=node_address6(index) if 6 in families else None,
        families=families,
    )


def make_plan(
    name: str, nodes: int, pods: int, families: tuple[int, ...] = FAMILIES, router: str = "kernel"
) -> LabPlan:
    """The full topology for `nodes` nodes with `pods` pods each, dual-stack unless `families` says otherwise, with
    a router of kind `router`; raises PlanError on bad sizes or an unknown router."""
    families = check_families(tuple(families))
    if router not in ROUTER_KINDS:
        raise PlanError(f"--router must be one of {', '.join(ROUTER_KINDS)}, got {router!r}")
    if not 1 <= nodes <= MAX_NODES:
        raise PlanError(f"--nodes must be 1..{MAX_NODES}, got {nodes}")
    if not 0 <= pods <= MAX_PODS:
        raise PlanError(f"--pods must be 0..{MAX_PODS}, got {pods}")
    return LabPlan(
        name=validate_name(name),
        router_netns=f"{lab_prefix(name)}router",
        nodes=tuple(node_plan(name, i, pods, families) for i in range(1, nodes + 1)),
        families=families,
        router=router,
    )
