"""The route feed's full-or-delta rule (pure)."""

from __future__ import annotations

import pytest

from hubnet.server.domain.routefeed import FEED_MOVES, FeedPlan, needs_full, plan_feed
from hubnet.server.services.routes import ROUTE_MOVES

FULL = FeedPlan(full=True)

CASES = {
    # (since, revision, first retained, moved nodes) -> plan
    "since 0": (0, 10, 1, [], FULL),
    "since 0 on an empty log": (0, 0, None, [], FULL),
    "up to date": (10, 10, 1, [], FeedPlan(False)),
    "nothing moved": (5, 10, 1, [], FeedPlan(False)),
    "moved nodes, each once, by name": (5, 10, 1, ["b", "a", "b", None], FeedPlan(False, ("a", "b"))),
    "ahead of the log: another database": (11, 10, 1, [], FULL),
    "older than the events kept": (3, 10, 5, ["a"], FULL),
    "just at the oldest kept": (4, 10, 5, ["a"], FeedPlan(False, ("a",))),
    "every event pruned": (3, 10, None, [], FULL),
    "up to date, every event pruned": (10, 10, None, [], FeedPlan(False)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_plan(case: str) -> None:
    since, revision, first, moved, expected = CASES[case]
    assert plan_feed(since, revision, first, moved) == expected
    assert needs_full(since, revision, first) == (expected.full and len(moved) <= 5000)


def test_more_moves_than_the_cap_is_full() -> None:
    assert plan_feed(1, 9000, 1, ["n"] * 5000) == FeedPlan(False, ("n",))
    assert plan_feed(1, 9000, 1, ["n"] * 5001) == FULL
    assert plan_feed(1, 10, 1, ["a", "b", "c"], cap=2) == FULL


def test_the_feed_moves_on_every_route_move_and_a_removal() -> None:
    assert ROUTE_MOVES <= FEED_MOVES
    assert {"node.deleted"} == FEED_MOVES - ROUTE_MOVES
