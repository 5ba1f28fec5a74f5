"""plan(desired, actual): named table cases and Hypothesis properties."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubnet.server.domain.routeplan import ConflictingDesired, MixedFamilies, apply_to, plan
from hubnet.server.domain.routes import DesiredRoute, Route, RoutePlan, route_key


def r(n: int, hop: int) -> Route:
    return Route(IPv4Network(f"10.244.{n}.0/24"), IPv4Address(f"192.168.1.{hop}"))


def d(n: int, hop: int) -> DesiredRoute:
    return DesiredRoute(f"node-{n}", r(n, hop))


CASES = {
    "empty": ([], [], RoutePlan()),
    "in sync": ([d(1, 11)], [r(1, 11)], RoutePlan()),
    "new node": ([d(1, 11), d(2, 12)], [r(1, 11)], RoutePlan(add=(r(2, 12),))),
    "stale route swept": ([d(1, 11)], [r(1, 11), r(9, 19)], RoutePlan(delete=(r(9, 19),))),
    "address change is one replace": ([d(1, 99)], [r(1, 11)], RoutePlan(replace=(r(1, 99),))),
    "duplicate of ours at same prefix": ([d(1, 11)], [r(1, 11), r(1, 12)], RoutePlan(delete=(r(1, 12),))),
    "two stale hops, prefix moved": (
        [d(1, 99)],
        [r(1, 11), r(1, 12)],
        RoutePlan(replace=(r(1, 99),), delete=(r(1, 12),)),
    ),
    "everything released": ([], [r(1, 11), r(2, 12)], RoutePlan(delete=(r(1, 11), r(2, 12)))),
}


@pytest.mark.parametrize("desired, actual, expected", list(CASES.values()), ids=list(CASES))
def test_plan_cases(desired: list[DesiredRoute], actual: list[Route], expected: RoutePlan) -> None:
    assert plan(desired, actual) == expected


def test_conflicting_desired_names_the_prefix() -> None:
    with pytest.raises(ConflictingDesired, match=r"10\.244\.1\.0/24"):
        plan([d(1, 11), d(1, 12)], [])


prefixes = st.integers(0, 15)
hops = st.integers(2, 6)
routes = st.builds(r, prefixes, hops)


@st.composite
def desired_sets(draw: st.DrawFn) -> list[DesiredRoute]:
    table = draw(st.dictionaries(prefixes, hops, max_size=16))
    return [d(n, hop) for n, hop in table.items()]


@given(desired_sets(), st.lists(routes, max_size=24))
def test_applied_plan_reaches_desired(desired: list[DesiredRoute], actual: list[Route]) -> None:
    result = plan(desired, actual)
    assert apply_to(actual, result) == {x.route for x in desired}


@given(desired_sets(), st.lists(routes, max_size=24))
def test_plan_is_minimal_and_never_delete_plus_add(desired: list[DesiredRoute], actual: list[Route]) -> None:
    result = plan(desired, actual)
    have = {x.prefix for x in actual}
    want = {x.route.prefix for x in desired}
    assert {x.prefix for x in result.add} == want - have
    assert not {x.prefix for x in result.add} & {x.prefix for x in result.delete}
    # a prefix that stays desired is never withdrawn entirely: at most its surplus entries go
    for prefix in want & have:
        kept = {x for x in actual if x.prefix == prefix} - set(result.delete)
        assert kept or any(x.prefix == prefix for x in result.replace)
    assert set(result.delete) <= set(actual)  # only routes we listed (the owned ones) are ever deleted


@given(desired_sets(), st.lists(routes, max_size=24))
def test_plan_is_idempotent(desired: list[DesiredRoute], actual: list[Route]) -> None:
    after = apply_to(actual, plan(desired, actual))
    assert plan(desired, after).empty


# -- both families ---------------------------------------------------------------------------------------------


def r6(n: int, hop: int) -> Route:
    return Route(IPv6Network(f"fd00:10:244:{n:x}::/64"), IPv6Address(f"fd7a:1ab::{hop:x}"))


def d6(n: int, hop: int) -> DesiredRoute:
    return DesiredRoute(f"node-{n}", r6(n, hop))


def test_dual_stack_plan_treats_each_family_on_its_own() -> None:
    desired = [d(1, 11), d(2, 12), d6(1, 11), d6(2, 99), d6(3, 13)]
    actual = [r(1, 11), r(2, 12), r6(1, 11), r6(2, 12), r6(9, 19), r(9, 19)]
    assert plan(desired, actual) == RoutePlan(add=(r6(3, 13),), replace=(r6(2, 99),), delete=(r6(9, 19), r(9, 19)))


def test_same_numbers_in_two_families_never_collide() -> None:
    """0.0.0.0/0 and ::/0 (and ::a00:0/104 vs 10.0.0.0/8) are different prefixes: one is never the other's replace."""
    v4 = Route(IPv4Network("10.0.0.0/8"), IPv4Address("192.168.1.1"))
    v6 = Route(IPv6Network("::a00:0/104"), IPv6Address("::c0a8:101"))
    assert plan([DesiredRoute("a", v4), DesiredRoute("b", v6)], [v4]) == RoutePlan(add=(v6,))


@pytest.mark.parametrize(
    "route",
    [
        Route(IPv6Network("fd00:10:244:1::/64"), IPv4Address("192.168.1.11")),
        Route(IPv4Network("10.244.1.0/24"), IPv6Address("fd7a:1ab::11")),
    ],
    ids=["ipv6-via-ipv4", "ipv4-via-ipv6"],
)
def test_a_route_mixing_families_is_refused_not_planned(route: Route) -> None:
    with pytest.raises(MixedFamilies, match=str(route.prefix).replace(".", r"\.")):
        plan([d(2, 12), DesiredRoute("node-1", route)], [])


def test_routes_of_both_families_sort_ipv4_first_then_numerically() -> None:
    routes = [r6(2, 1), r(10, 1), r6(1, 5), r(2, 3), r(2, 2)]
    assert sorted(routes) == [r(2, 2), r(2, 3), r(10, 1), r6(1, 5), r6(2, 1)]
    assert sorted(routes) == sorted(routes, key=route_key)
    with pytest.raises(TypeError):  # what the dataclass's own tuple order would have done
        sorted([r(1, 1).prefix, r6(1, 1).prefix])


both = st.one_of(st.builds(r, prefixes, hops), st.builds(r6, prefixes, hops))


@st.composite
def dual_desired_sets(draw: st.DrawFn) -> list[DesiredRoute]:
    v4 = draw(st.dictionaries(prefixes, hops, max_size=16))
    v6 = draw(st.dictionaries(prefixes, hops, max_size=16))
    return [d(n, hop) for n, hop in v4.items()] + [d6(n, hop) for n, hop in v6.items()]


@given(dual_desired_sets(), st.lists(both, max_size=32))
def test_dual_stack_applied_plan_reaches_desired_and_is_idempotent(
    desired: list[DesiredRoute], actual: list[Route]
) -> None:
    result = plan(desired, actual)
    after = apply_to(actual, result)
    assert after == {x.route for x in desired}
    assert plan(desired, after).empty
    assert set(result.delete) <= set(actual)
    for part in (result.add, result.replace, result.delete):
        assert all(x.prefix.version == x.next_hop.version for x in part)
