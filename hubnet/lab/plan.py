"""The lab's topology as pure data: names and addresses for a router, N nodes and M pods per node.

Everything the lab creates is named `hnlab-<name>-…`; a lab name has no dash, so the prefix of one lab never
matches another's (`hnlab-lab-` vs `hnlab-lab2-`). docker-compose.yml uses the same addresses (a test checks).

The HA lab (`--routers 2 --controllers 2`, anything but 1/1) is another topology on the same underlay: a switch
namespace holds the bridge, so any member can die without taking the LAN with it; routers r1/r2 share the router
address (192.168.1.1, fd00:192:168:1::1) as a VRRP virtual address; controllers c1/c2 and PostgreSQL have
namespaces of their own. Nodes are the same and route the cluster CIDR via the same address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
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
UNDERLAY_BRIDGE = "hnlab-br0"  # in the router namespace (the switch namespace in an HA lab)
NODE_UPLINK = "hnlab-up0"  # in each node namespace
POD_BRIDGE = "v-net-0"
MAX_NODES = 200
MAX_PODS = 250
# The HA lab: the underlay's hosts 2-6 (nodes start at 11). Routers own their address; the router address of the
# plain lab becomes the VRRP virtual address (VIP) that the master of the two holds.
ROUTER_HOSTS = (3, 4)  # r1 192.168.1.3 / fd00:192:168:1::3, r2 .4 / ::4
CONTROLLER_HOSTS = (2, 5)  # c1 192.168.1.2, c2 .5
DB_HOST = 6  # PostgreSQL, 192.168.1.6:5432
DB_PORT = 5432
DB_NAME = "hubnet"
DB_USER = "postgres"
VRRP_PRIORITIES = (150, 100)  # r1 is the preferred master (and takes the address back when it returns)
MAX_ROUTERS = len(ROUTER_HOSTS)
MAX_CONTROLLERS = len(CONTROLLER_HOSTS)
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
class MemberPlan:
    """A namespace of the HA lab with one uplink on the switch: a router (`r1`), a controller (`c1`) or the
    database (`db`)."""

    name: str
    netns: str
    address: IPv4Address
    address6: IPv6Address
    port: str  # its port on the underlay bridge, in the switch namespace
    families: tuple[int, ...] = (4,)
    priority: int = 0  # a router's VRRP priority

    @property
    def addresses(self) -> list[Address]:
        """The member's underlay addresses of the lab's families, IPv4 first."""
        both: dict[int, Address] = {4: self.address, 6: self.address6}
        return [both[f] for f in self.families]

    @property
    def url(self) -> str:
        """`http://host:6780` on its first address (a controller's URL)."""
        return _url(self.addresses[0], CONTROLLER_PORT)


@dataclass(frozen=True)
class LabPlan:
    name: str
    router_netns: str
    nodes: tuple[NodePlan, ...]
    families: tuple[int, ...] = (4,)
    router: str = "kernel"  # one of ROUTER_KINDS
    # The HA lab's members (empty in the plain lab).
    routers: tuple[MemberPlan, ...] = ()
    controllers: tuple[MemberPlan, ...] = ()
    db: MemberPlan | None = None

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
    def ha(self) -> bool:
        """The HA lab: a switch namespace, VRRP routers with router agents, controller replicas on PostgreSQL."""
        return bool(self.routers)

    @property
    def switch_netns(self) -> str:
        """The namespace holding the underlay bridge: the switch (HA lab) or the router."""
        return f"{self.prefix}sw" if self.ha else self.router_netns

    @property
    def controller_urls(self) -> list[str]:
        """Every controller's URL (the agents get them all)."""
        return [c.url for c in self.controllers] if self.ha else [self.controller_url]

    @property
    def db_url(self) -> str:
        """HUBNET_DATABASE_URL of the HA lab's controllers (trust auth on the lab underlay: no password)."""
        if self.db is None:
            raise PlanError(f"lab {self.name!r} has no database namespace")
        host = str(self.db.addresses[0])
        return f"postgresql://{DB_USER}@{host if 4 in self.families else f'[{host}]'}:{DB_PORT}/{DB_NAME}"

    def member(self, name: str) -> MemberPlan:
        """An HA lab member by name (`r1`, `c2`, `db`)."""
        for member in (*self.routers, *self.controllers, *([self.db] if self.db else [])):
            if member.name == name:
                return member
        raise PlanError(f"no member {name!r} in lab {self.name!r}")

    @property
    def bgp(self) -> bool:
        """The router is a BGP daemon (BIRD or FRR) and the controller a BGP speaker in its own namespace."""
        return self.router != "kernel"

    @property
    def controller_netns(self) -> str:
        """Where the controller runs: the router's namespace (kernel backend), its own (`hnlab-<name>-ctl`), or
        the first replica's (HA lab)."""
        if self.ha:
            return self.controllers[0].netns
        return f"{self.prefix}ctl" if self.bgp else self.router_netns

    @property
    def controller_addresses(self) -> list[Address]:
        if self.ha:
            return self.controllers[0].addresses
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
        return _url(self.controller_address, CONTROLLER_PORT)

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


def _url(host: Address, port: int) -> str:
    return f"http://{host if host.version == 4 else f'[{host}]'}:{port}"


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


def member_plan(lab: str, name: str, host: int, families: tuple[int, ...], priority: int = 0) -> MemberPlan:
    """An HA lab member `name` at underlay host `host` (192.168.1.<host>, fd00:192:168:1::<host>)."""
    return MemberPlan(
        name=name,
        netns=f"{lab_prefix(lab)}{name}",
        address=UNDERLAY.network_address + host,
        address6=UNDERLAY6.network_address + host,
        port=f"hnlab-{name}",
        families=families,
        priority=priority,
    )


def make_plan(
    name: str,
    nodes: int,
    pods: int,
    families: tuple[int, ...] = FAMILIES,
    router: str = "kernel",
    routers: int = 1,
    controllers: int = 1,
) -> LabPlan:
    """The full topology for `nodes` nodes with `pods` pods each, dual-stack unless `families` says otherwise, with
    a router of kind `router`; with more than one router or controller, the HA lab (kernel routers only). Raises
    PlanError on bad sizes or an unknown router."""
    families = check_families(tuple(families))
    if router not in ROUTER_KINDS:
        raise PlanError(f"--router must be one of {', '.join(ROUTER_KINDS)}, got {router!r}")
    if not 1 <= nodes <= MAX_NODES:
        raise PlanError(f"--nodes must be 1..{MAX_NODES}, got {nodes}")
    if not 0 <= pods <= MAX_PODS:
        raise PlanError(f"--pods must be 0..{MAX_PODS}, got {pods}")
    if not 1 <= routers <= MAX_ROUTERS:
        raise PlanError(f"--routers must be 1..{MAX_ROUTERS}, got {routers}")
    if not 1 <= controllers <= MAX_CONTROLLERS:
        raise PlanError(f"--controllers must be 1..{MAX_CONTROLLERS}, got {controllers}")
    ha = routers > 1 or controllers > 1
    if ha and router != "kernel":
        raise PlanError(f"--router {router} is a single BGP router; --routers/--controllers build kernel routers")
    lab = validate_name(name)
    plan = LabPlan(
        name=lab,
        router_netns=f"{lab_prefix(lab)}router",
        nodes=tuple(node_plan(lab, i, pods, families) for i in range(1, nodes + 1)),
        families=families,
        router=router,
    )
    return _with_ha(plan, routers, controllers) if ha else plan


def _with_ha(plan: LabPlan, routers: int, controllers: int) -> LabPlan:
    """The HA lab's members added to a plan; `router_netns` names the preferred VRRP master (r1)."""
    lab, families = plan.name, plan.families
    return replace(
        plan,
        router_netns=f"{lab_prefix(lab)}r1",
        routers=tuple(
            member_plan(lab, f"r{i}", ROUTER_HOSTS[i - 1], families, VRRP_PRIORITIES[i - 1])
            for i in range(1, routers + 1)
        ),
        controllers=tuple(
            member_plan(lab, f"c{i}", CONTROLLER_HOSTS[i - 1], families) for i in range(1, controllers + 1)
        ),
        db=member_plan(lab, "db", DB_HOST, families),
    )
