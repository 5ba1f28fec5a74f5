"""The aggregate route state over the router agents, and a router's status after a report (pure)."""

from __future__ import annotations

import pytest

from hubnet.server.domain.routerstate import NO_ROUTER_UP, aggregate, counts, status_after_report

P, OK, F = "pending", "programmed", "failed"

AGGREGATE = {
    "no router at all": ({}, set(), {}, (P, NO_ROUTER_UP)),
    "routers but none up": ({"r1": OK, "r2": OK}, set(), {}, (P, NO_ROUTER_UP)),
    "one up, programmed": ({"r1": OK}, {"r1"}, {}, (OK, None)),
    "both up, both programmed": ({"r1": OK, "r2": OK}, {"r1", "r2"}, {}, (OK, None)),
    "both up, one pending": ({"r1": OK, "r2": P}, {"r1", "r2"}, {}, (P, None)),
    "both up, one without a state": ({"r1": OK, "r2": None}, {"r1", "r2"}, {}, (P, None)),
    "both up, one missing from the map": ({"r1": OK}, {"r1", "r2"}, {}, (P, None)),
    "a down router does not block": ({"r1": OK, "r2": P}, {"r1"}, {}, (OK, None)),
    "a down router's failure is ignored": ({"r1": OK, "r2": F}, {"r1"}, {"r2": "boom"}, (OK, None)),
    "failed names the router": ({"r1": OK, "r2": F}, {"r1", "r2"}, {"r2": "File exists"}, (F, "r2: File exists")),
    "failed beats pending": ({"r1": P, "r2": F}, {"r1", "r2"}, {"r2": "x"}, (F, "r2: x")),
    "every failed router named, by name": (
        {"r2": F, "r1": F},
        {"r1", "r2"},
        {"r1": "a", "r2": "b"},
        (F, "r1: a; r2: b"),
    ),
    "failed without an error": ({"r1": F}, {"r1"}, {}, (F, "r1: failed")),
}


@pytest.mark.parametrize("case", list(AGGREGATE))
def test_aggregate(case: str) -> None:
    per_router, counted, errors, expected = AGGREGATE[case]
    assert aggregate(per_router, counted, errors=errors) == expected


def test_aggregate_without_errors_mapping() -> None:
    assert aggregate({"r1": F}, ["r1"]) == (F, "r1: failed")


STATUS = {
    # (status before, complete, holds every ready route) -> status after
    "first report, incomplete": ("syncing", False, True, "syncing"),
    "first report, complete": ("syncing", True, True, "up"),
    "complete but lacks a ready node's route": ("syncing", True, False, "syncing"),
    "back from down, incomplete": ("down", False, True, "syncing"),
    "back from down, complete and holding everything": ("down", True, True, "up"),
    "back from down, complete but behind": ("down", True, False, "syncing"),
    "up stays up on an incomplete report": ("up", False, False, "up"),
    "up stays up": ("up", True, True, "up"),
}


@pytest.mark.parametrize("case", list(STATUS))
def test_status_after_report(case: str) -> None:
    before, complete, holds, expected = STATUS[case]
    assert status_after_report(before, complete=complete, holds_ready_routes=holds) == expected


def test_only_up_counts() -> None:
    assert [s for s in ("syncing", "up", "down") if counts(s)] == ["up"]


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError):
        status_after_report("sideways", complete=True, holds_ready_routes=True)
