"""plan(desired, actual): named table cases and Hypothesis properties."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubnet.server.domain.routeplan import ConflictingDesired, apply_to, plan
from hubnet.server.domain.routes import DesiredRoute, Route, RoutePlan


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
