"""The router agent's desired table as a state machine (hubnet/router/table.py): full and delta answers, removal by
`routes: []`, the revision, and fail static (only a feed answer changes it)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import pytest

from hubnet.router.feed import FeedEntry, FeedError, RouteFeed
from hubnet.router.table import DesiredTable
from hubnet.server.domain.routes import Route


def r(n: int, hop: int = 0) -> Route:
    return Route(IPv4Network(f"10.244.{n}.0/24"), IPv4Address(f"192.168.1.{hop or 10 + n}"))


def e(n: int, generation: int = 1, hop: int = 0) -> FeedEntry:
    return FeedEntry(f"n{n}", generation, (r(n, hop),))


def gone(n: int) -> FeedEntry:
    return FeedEntry(f"n{n}", 0, ())


def full(revision: int, *entries: FeedEntry) -> RouteFeed:
    return RouteFeed(revision, True, entries)


def delta(revision: int, *entries: FeedEntry) -> RouteFeed:
    return RouteFeed(revision, False, entries)


def routes(table: DesiredTable) -> set[Route]:
    return {d.route for d in table.snapshot()[1]}


@pytest.fixture
def table() -> DesiredTable:
    t = DesiredTable()
    assert t.apply(full(10, e(1), e(2), e(3)))
    return t


def test_a_new_table_asks_for_everything_and_has_nothing_to_program() -> None:
    t = DesiredTable()
    assert (t.loaded, t.since) == (False, 0)
    with pytest.raises(AssertionError):
        t.snapshot()


def test_the_full_table_loads(table: DesiredTable) -> None:
    assert (table.loaded, table.since) == (True, 10)
    assert routes(table) == {r(1), r(2), r(3)}
    assert table.snapshot()[0] == 10


@pytest.mark.parametrize(
    ("answer", "changed", "expected", "since"),
    [
        (delta(11, e(4)), True, {r(1), r(2), r(3), r(4)}, 11),
        (delta(11, gone(2)), True, {r(1), r(3)}, 11),
        (delta(11, gone(9)), True, {r(1), r(2), r(3)}, 11),  # never had it: nothing to drop, the revision moved
        (delta(12, e(2, generation=2, hop=99), gone(3)), True, {r(1), r(2, hop=99)}, 12),
        (delta(10), False, {r(1), r(2), r(3)}, 10),  # a long-poll that found nothing
        (delta(15), True, {r(1), r(2), r(3)}, 15),  # nothing for us, but the revision moved: the report says so
        (delta(11, e(1)), True, {r(1), r(2), r(3)}, 11),  # the same routes again
        (full(20, e(1), e(5)), True, {r(1), r(5)}, 20),  # a full answer drops every node it does not list
        (full(10, e(1), e(2), e(3)), False, {r(1), r(2), r(3)}, 10),
    ],
    ids=["add", "remove", "remove-unknown", "move-and-remove", "nothing", "revision-only", "same", "full", "same-full"],
)
def test_an_answer_changes_the_table(
    table: DesiredTable, answer: RouteFeed, changed: bool, expected: set[Route], since: int
) -> None:
    assert table.apply(answer) is changed
    assert routes(table) == expected
    assert table.since == since


def test_a_delta_before_the_whole_table_is_refused() -> None:
    t = DesiredTable()
    with pytest.raises(FeedError):
        t.apply(delta(5, e(1)))
    assert not t.loaded


def test_a_feed_that_went_back_in_time_is_read_again_in_full(table: DesiredTable) -> None:
    """A controller whose log is behind ours (a restored database) would otherwise be asked for changes after a
    revision it will not reach for a long time: nothing is applied, the next request reads everything."""
    assert not table.apply(delta(4, gone(1)))
    assert routes(table) == {r(1), r(2), r(3)} and table.since == 0
    assert table.apply(full(4, e(1), e(2)))
    assert routes(table) == {r(1), r(2)} and table.since == 4


def test_every_route_of_a_node_reports_onto_one_record() -> None:
    v6 = Route(IPv6Network("fd00:10:244:1::/64"), IPv6Address("fd7a:1ab::11"))
    t = DesiredTable()
    t.apply(full(1, FeedEntry("n1", 4, (r(1), v6))))
    refs = {d.ref for d in t.snapshot()[1]}
    assert len(refs) == 1
    (ref,) = refs
    assert (ref.name, ref.generation) == ("n1", 4)


def test_the_desired_list_is_built_once_per_change(table: DesiredTable) -> None:
    first = table.snapshot()[1]
    table.apply(delta(10))
    assert table.snapshot()[1] is first  # periodic reconciles of a large table do not rebuild it
    table.apply(delta(11, e(4)))
    assert table.snapshot()[1] is not first
