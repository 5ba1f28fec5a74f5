"""The pure integrity check: named cases, one per kind and per edge (no routes checked, old agents, bad rows)."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network

import pytest

from hubnet.server.domain.integrity import BridgeReport, NodeFacts, check

POOLS = [IPv4Network("10.244.0.0/16")]
A = NodeFacts("a", "192.168.1.11", "10.244.1.0/24")
B = NodeFacts("b", "192.168.1.12", "10.244.2.0/24")
ROUTES = [("10.244.1.0/24", "192.168.1.11"), ("10.244.2.0/24", "192.168.1.12")]
GOOD = {"a": BridgeReport("v-net-0", ("10.244.1.1/24",)), "b": BridgeReport("v-net-0", ("10.244.2.1/24",))}

CASES = {
    "clean": ([A, B], ROUTES, GOOD, []),
    "identical subnets": ([A, NodeFacts("c", "192.168.1.13", A.subnet)], ROUTES[:1], {}, ["subnet-overlap:c"]),
    "wider subnet covers another": (
        [NodeFacts("w", "192.168.1.14", "10.244.0.0/23"), A],
        [("10.244.0.0/23", "192.168.1.14"), ROUTES[0]],
        {},
        ["subnet-overlap:a"],
    ),
    "outside every pool": (
        [NodeFacts("o", "192.168.1.15", "10.99.0.0/24")],
        [("10.99.0.0/24", "192.168.1.15")],
        {},
        ["subnet-outside-pools:o"],
    ),
    "unparsable subnet": ([NodeFacts("x", "192.168.1.16", "garbage")], [], {}, ["subnet-outside-pools:x"]),
    "route missing": ([A, B], ROUTES[:1], GOOD, ["route-missing:b"]),
    "route orphan": ([A], ROUTES, {}, ["route-orphan:10.244.2.0/24"]),
    "wrong next hop": ([A], [("10.244.1.0/24", "192.168.1.99")], {}, ["route-next-hop:a"]),
    "bridge without gateway": (
        [A],
        ROUTES[:1],
        {"a": BridgeReport("v-net-0", ("10.244.1.2/24",))},
        ["bridge-gateway:a"],
    ),
    "gateway with the wrong prefix": (
        [A],
        ROUTES[:1],
        {"a": BridgeReport("v-net-0", ("10.244.1.1/16",))},
        ["bridge-gateway:a"],
    ),
    "old agent (no report)": ([A], ROUTES[:1], {}, []),
}


@pytest.mark.parametrize(("nodes", "routes", "bridges", "expected"), CASES.values(), ids=CASES.keys())
def test_check(
    nodes: list[NodeFacts],
    routes: list[tuple[str, str]],
    bridges: dict[str, BridgeReport],
    expected: list[str],
) -> None:
    found = [f"{p.kind}:{p.node or p.subject}" for p in check(nodes, POOLS, routes, bridges)]
    assert found == expected


def test_a_foreign_route_holding_the_prefix_is_named_not_missing() -> None:
    found = check([A, B], POOLS, ROUTES[:1], GOOD, foreign={"10.244.2.0/24": "via 192.168.1.99 proto 4 table 254"})
    assert [(p.kind, p.node) for p in found] == [("route-foreign", "b")]
    assert "via 192.168.1.99 proto 4" in found[0].detail and "never replaces" in found[0].detail


def test_a_bridge_report_says_how_old_it_is() -> None:
    stale = {"a": BridgeReport("v-net-0", ("10.244.1.2/24",), received_at=100.0)}
    (problem,) = check([A], POOLS, ROUTES[:1], stale, now=108.25)
    assert problem.age_seconds == 8.2 and problem.detail.endswith("(agent report 8.2 s old)")
    assert problem.as_dict()["age_seconds"] == 8.2


def test_without_a_route_backend_routes_are_not_checked() -> None:
    assert check([A, B], POOLS, None, {}) == []


# Dual-stack: one fact per family a node holds a subnet of; every check stays within a family.
POOLS_DS = [IPv4Network("10.244.0.0/16"), IPv6Network("fd00:10:244::/56")]
A6 = NodeFacts("a", "fd00:1::11", "fd00:10:244:1::/64")
B6 = NodeFacts("b", "fd00:1::12", "fd00:10:244:2::/64")
ROUTES_DS = [*ROUTES, ("fd00:10:244:1::/64", "fd00:1::11"), ("fd00:10:244:2::/64", "fd00:1::12")]
GOOD_DS = {
    "a": BridgeReport("v-net-0", ("10.244.1.1/24", "fd00:10:244:1::1/64", "fe80::1/64")),
    "b": BridgeReport("v-net-0", ("10.244.2.1/24", "fd00:10:244:2::1/64")),
}

CASES_DS = {
    "clean": ([A, B, A6, B6], ROUTES_DS, GOOD_DS, []),
    "identical IPv6 subnets": (
        [A, A6, B, NodeFacts("b", "fd00:1::12", A6.subnet)],
        ROUTES_DS[:3],
        {},
        ["subnet-overlap:b"],
    ),
    "IPv6 subnet outside every pool": (
        [A, NodeFacts("a", "fd00:1::11", "fd00:99::/64")],
        [ROUTES[0], ("fd00:99::/64", "fd00:1::11")],
        {},
        ["subnet-outside-pools:a"],
    ),
    "IPv6 subnet unparsable": (
        [A, NodeFacts("a", "fd00:1::11", "fd00:10:244::5/64")],
        ROUTES[:1],
        {},
        ["subnet-outside-pools:a"],
    ),
    "IPv6 route missing": ([A, A6, B, B6], ROUTES_DS[:3], GOOD_DS, ["route-missing:b"]),
    "IPv6 route orphan": ([A, A6], [ROUTES_DS[0], ROUTES_DS[2], ROUTES_DS[3]], {}, ["route-orphan:fd00:10:244:2::/64"]),
    "IPv6 route via another address": (
        [A, A6],
        [ROUTES[0], ("fd00:10:244:1::/64", "fd00:1::99")],
        {},
        ["route-next-hop:a"],
    ),
    "IPv6 next hop in another spelling is the same": (
        [A6],
        [("fd00:10:244:1::/64", "FD00:1:0:0::0011")],
        {},
        [],
    ),
    "bridge without its IPv6 gateway": (
        [A, A6],
        [ROUTES_DS[0], ROUTES_DS[2]],
        {"a": BridgeReport("v-net-0", ("10.244.1.1/24",))},
        ["bridge-gateway:a"],
    ),
    # the integers of the two families are not comparable: ::a00:0/120 holds the bits of 10.0.0.0, no overlap
    "same integers, other family": (
        [NodeFacts("x", "192.168.1.20", "10.0.0.0/24"), NodeFacts("y", "fd00:1::20", "::a00:0/120")],
        None,
        {},
        ["subnet-outside-pools:x", "subnet-outside-pools:y"],
    ),
    "an IPv4 subnet is not inside an IPv6 pool": ([NodeFacts("z", "192.168.1.21", "10.244.1.0/24")], None, {}, []),
}


@pytest.mark.parametrize(("nodes", "routes", "bridges", "expected"), CASES_DS.values(), ids=CASES_DS.keys())
def test_check_dual_stack(
    nodes: list[NodeFacts],
    routes: list[tuple[str, str]] | None,
    bridges: dict[str, BridgeReport],
    expected: list[str],
) -> None:
    found = [f"{p.kind}:{p.node or p.subject}" for p in check(nodes, POOLS_DS, routes, bridges)]
    assert found == expected


def test_the_ipv6_bridge_problem_names_the_ipv6_gateway() -> None:
    (problem,) = check([A, A6], POOLS_DS, None, {"a": BridgeReport("v-net-0", ("10.244.1.1/24",))})
    assert problem.subject == "fd00:10:244:1::/64" and "fd00:10:244:1::1/64" in problem.detail


def test_a_node_reporting_refused_direct_routes_is_reported_once() -> None:
    """Direct mode: the agent's heartbeat says how many routes to other nodes its kernel refused."""
    a6 = NodeFacts("a", "fd00::11", "fd00:10:244:1::/64")
    report = BridgeReport("v-net-0", ("10.244.1.1/24", "fd00:10:244:1::1/64"), direct_failed=2, direct_error="boom")
    problems = check([A, a6, B], [*POOLS, IPv6Network("fd00:10:244::/56")], None, {"a": report, "b": GOOD["b"]})
    assert [(p.kind, p.node) for p in problems] == [("direct-routes-refused", "a")]
    assert "2 direct route(s)" in problems[0].detail and "boom" in problems[0].detail
