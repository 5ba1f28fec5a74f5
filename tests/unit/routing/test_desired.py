"""The controller's desired set: one route per node per family from the node rows (services.routes.desired)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any, cast

from hubnet.server.domain.records import NodeRecord
from hubnet.server.domain.routes import NodeRef, Route
from hubnet.server.services import routes
from hubnet.server.services.context import Controller

BASE = NodeRecord(
    id=1,
    name="n",
    address=None,
    machine_id=None,
    subnet=None,
    pool_id=None,
    state="live",
    generation=3,
    secret_hash="x",
    expires_at=0.0,
    released_at=None,
    reissued=False,
    route_state="pending",
    route_error=None,
)


def node(name: str, **fields: Any) -> NodeRecord:
    return replace(BASE, name=name, **fields)


@dataclass
class Repo:
    nodes: list[NodeRecord]

    def live_nodes(self) -> list[NodeRecord]:
        return self.nodes


@dataclass
class Uow:
    repo: Repo


@dataclass
class Ctl:
    """Just what `routes.desired` reads: `read(use_case)` over a repository of live nodes."""

    nodes: list[NodeRecord]

    def read(self, use_case: Callable[[Uow], Any]) -> Any:
        return use_case(Uow(Repo(self.nodes)))


def desired_of(*nodes: NodeRecord) -> list[tuple[str, Route, NodeRef]]:
    found = routes.desired(cast(Controller, Ctl(list(nodes))))
    return [(d.node, d.route, d.ref) for d in found]


V4 = Route(IPv4Network("10.244.3.0/24"), IPv4Address("192.168.1.13"))
V6 = Route(IPv6Network("fd00:10:244:3::/64"), IPv6Address("fd7a:1ab::13"))


def test_dual_stack_node_gets_a_route_per_family_keyed_by_its_primary_address() -> None:
    dual = node(
        "dual", subnet="10.244.3.0/24", address="192.168.1.13", subnet6="fd00:10:244:3::/64", address6="fd7a:1ab::13"
    )
    # keyed by the primary address, and the IPv6 route's identity (a late report from before an IPv6 move is void)
    ref = NodeRef("dual", 3, "192.168.1.13", "fd00:10:244:3::/64", "fd7a:1ab::13", checks6=True)
    assert desired_of(dual) == [("dual", V4, ref), ("dual", V6, ref)]


def test_ipv6_only_node_is_keyed_by_its_ipv6_address() -> None:
    v6 = node("v6", subnet6="fd00:10:244:3::/64", address6="fd7a:1ab::13")
    assert desired_of(v6) == [("v6", V6, NodeRef("v6", 3, "fd7a:1ab::13", "fd00:10:244:3::/64", "fd7a:1ab::13", True))]


def test_a_family_without_subnet_or_address_or_unparsable_gives_no_route_of_that_family() -> None:
    no_address6 = node("a", subnet="10.244.3.0/24", address="192.168.1.13", subnet6="fd00:10:244:4::/64")
    bad_subnet6 = node(
        "b", subnet="10.244.5.0/24", address="192.168.1.15", subnet6="fd00:10:244:5::1/64", address6="fd7a:1ab::15"
    )
    swapped = node(
        "c", subnet="fd00:10:244:6::/64", address="192.168.1.16", subnet6="10.244.6.0/24", address6="fd7a:1ab::16"
    )
    v6_via_v4 = node("d", subnet6="fd00:10:244:7::/64", address6="192.168.1.17", subnet="10.244.7.0/24", address="x")
    found = desired_of(no_address6, bad_subnet6, swapped, v6_via_v4)
    assert [(name, str(route.prefix)) for name, route, _ in found] == [("a", "10.244.3.0/24"), ("b", "10.244.5.0/24")]


def test_the_set_is_ipv4_first_then_numeric() -> None:
    nodes = [
        node(
            "z", subnet="10.244.10.0/24", address="192.168.1.30", subnet6="fd00:10:244:1::/64", address6="fd7a:1ab::30"
        ),
        node(
            "y", subnet="10.244.2.0/24", address="192.168.1.31", subnet6="fd00:10:244:a::/64", address6="fd7a:1ab::31"
        ),
    ]
    assert [str(route.prefix) for _, route, _ in desired_of(*nodes)] == [
        "10.244.2.0/24",
        "10.244.10.0/24",
        "fd00:10:244:1::/64",
        "fd00:10:244:a::/64",
    ]
