"""The router agent's programmer (hubnet/router/programmer.py): the controller's Reconciler over the in-tree
FakeBackend, fed from the desired table; what each run leaves in the report book."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import pytest

from hubnet.router.feed import FeedEntry, RouteFeed
from hubnet.router.programmer import Programmer
from hubnet.router.report import Report, ReportBook
from hubnet.router.table import DesiredTable
from hubnet.router.tally import Tally
from hubnet.server.domain.routes import NodeRef, Route
from hubnet.server.routing.fake import FakeBackend


def r(n: int, hop: int = 0) -> Route:
    return Route(IPv4Network(f"10.244.{n}.0/24"), IPv4Address(f"192.168.1.{hop or 10 + n}"))


def e(n: int, generation: int = 1) -> FeedEntry:
    return FeedEntry(f"n{n}", generation, (r(n),))


def wait_for(cond: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.01)


class Setup:
    def __init__(self, *owned: Route) -> None:
        self.backend = FakeBackend(set(owned))
        self.table = DesiredTable()
        self.book = ReportBook()
        self.reports: list[Report] = []
        self.programmer = Programmer(self.backend, self.table, self.book, interval=0.2, on_report=self._report)

    def _report(self) -> None:
        """What the report sender would send now (taken at once: states and tally together)."""
        report = self.book.take()
        if report is not None:
            self.reports.append(report)
            self.book.sent(report)

    def states(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for report in self.reports:
            merged.update({node: state for (node, _), (state, _) in report.states.items()})
        return merged


@pytest.fixture
def setup() -> Iterator[Setup]:
    s = Setup()
    yield s
    s.programmer.stop()


def test_the_first_run_programs_the_table_and_reports_states_and_tally_together() -> None:
    s = Setup(r(9))  # a route of ours nobody wants any more: swept by the start-up run
    s.table.apply(RouteFeed(5, True, (e(1), e(2))))
    tally = s.programmer.reconcile("startup")
    assert s.backend.routes == {r(1), r(2)}
    assert tally == Tally(revision=5, complete=True, route_count=2)
    (report,) = s.reports  # the report that first says `complete` already carries the states of that run
    assert report.tally.complete and {k[0]: v[0] for k, v in report.states.items()} == {
        "n1": "programmed",
        "n2": "programmed",
    }
    body = report.body()
    assert body == {
        "revision": 5, "complete": True, "route_count": 2, "missing": 0, "unexpected": 0, "foreign": 0,
        "error": None,
        "states": [
            {"node": "n1", "generation": 1, "state": "programmed", "error": None},
            {"node": "n2", "generation": 1, "state": "programmed", "error": None},
        ],
    }  # fmt: skip


def test_a_removed_node_loses_its_route_and_the_rest_stays(setup: Setup) -> None:
    setup.table.apply(RouteFeed(5, True, (e(1), e(2), e(3))))
    setup.programmer.reconcile("startup")
    setup.table.apply(RouteFeed(6, False, (FeedEntry("n2", 0, ()),)))
    tally = setup.programmer.reconcile("change")
    assert setup.backend.routes == {r(1), r(3)}
    assert (tally.revision, tally.route_count, tally.complete) == (6, 2, True)
    assert setup.backend.plans[-1].delete == (r(2),) and not setup.backend.plans[-1].add


def test_a_failed_route_makes_the_report_incomplete_and_names_it(setup: Setup) -> None:
    setup.backend.fail[r(2).prefix] = "Network is unreachable"
    setup.backend.foreign_routes[r(2).prefix] = "via 192.168.1.250 proto static table 254"
    setup.table.apply(RouteFeed(5, True, (e(1), e(2))))
    tally = setup.programmer.reconcile("startup")
    assert not tally.complete and (tally.missing, tally.unexpected, tally.foreign, tally.route_count) == (1, 0, 1, 1)
    assert tally.error == "1 route(s) failed: 10.244.2.0/24: Network is unreachable"
    assert setup.states() == {"n1": "programmed", "n2": "failed"}
    del setup.backend.fail[r(2).prefix]
    assert setup.programmer.reconcile("periodic").complete
    assert setup.states()["n2"] == "programmed"


def test_a_run_that_cannot_read_the_router_keeps_the_last_counters_and_says_why(setup: Setup) -> None:
    setup.table.apply(RouteFeed(5, True, (e(1),)))
    setup.programmer.reconcile("startup")
    setup.backend.broken = "netlink socket closed"
    with pytest.raises(RuntimeError):
        setup.programmer.reconcile("periodic")
    tally = setup.book.tally
    assert tally is not None and not tally.complete and tally.route_count == 1
    assert tally.error == "reconcile failed: netlink socket closed"
    assert setup.reports[-1].tally == tally  # a change of tally is reported at once
    assert setup.backend.routes == {r(1)}  # nothing touched


def test_nothing_is_reported_before_the_first_run(setup: Setup) -> None:
    assert setup.book.take() is None


def test_the_loop_starts_on_the_first_full_table_then_follows_changes(setup: Setup) -> None:
    setup.table.apply(RouteFeed(5, True, (e(1),)))
    setup.programmer.update()
    wait_for(lambda: setup.backend.routes == {r(1)})
    setup.table.apply(RouteFeed(6, False, (e(2),)))
    setup.programmer.update()
    wait_for(lambda: setup.backend.routes == {r(1), r(2)})
    assert setup.programmer.reconciler.metrics.runs.labels("startup")._value.get() == 1


def test_drift_is_repaired_against_the_last_table_while_nothing_else_happens(setup: Setup) -> None:
    """Fail static: with no controller answering the table stays as it was; routes deleted behind our back come
    back, a route of ours added behind our back goes."""
    setup.table.apply(RouteFeed(5, True, (e(1), e(2))))
    setup.programmer.update()
    wait_for(lambda: setup.backend.routes == {r(1), r(2)})
    setup.backend.drift(remove=[r(1)], add=[r(7)])
    wait_for(lambda: setup.backend.routes == {r(1), r(2)})
    assert setup.programmer.reconciler.metrics.runs.labels("drift")._value.get() >= 1


def test_stop_closes_the_backend_and_leaves_the_routes(setup: Setup) -> None:
    setup.table.apply(RouteFeed(5, True, (e(1),)))
    setup.programmer.update()
    wait_for(lambda: setup.backend.routes == {r(1)})
    setup.programmer.stop()
    assert setup.backend.closed and setup.backend.routes == {r(1)}


def test_a_change_after_stop_starts_nothing(setup: Setup) -> None:
    """The feed thread is a daemon: its long-poll may still answer while the agent stops."""
    setup.table.apply(RouteFeed(5, True, (e(1),)))
    setup.programmer.stop()
    setup.programmer.update()
    time.sleep(0.2)
    assert not setup.programmer.running and setup.backend.plans == []


def reported(setup: Setup, node: str) -> list[tuple[int, str]]:
    """(report revision, state) of every report that carried a state of `node`."""
    return [(rep.tally.revision, st[0]) for rep in setup.reports for (n, _), st in rep.states.items() if n == node]


def test_a_node_the_feed_names_again_is_reported_again_with_that_revision(setup: Setup) -> None:
    """The controller ignores a state from a table older than the node's last route move (a re-join from another
    address or with a new subnet keeps the generation). So a node a delta names again — a second subnet's route
    added, or its entry unchanged because the earlier answer already showed the move — is reported again, in a
    report whose revision is that delta's."""
    v6 = Route(IPv6Network("fd00:10:244:1::/64"), IPv6Address("fd7a:1ab::11"))
    setup.table.apply(RouteFeed(5, True, (e(1), e(2))))
    setup.programmer.reconcile("startup")
    setup.table.apply(RouteFeed(6, False, (FeedEntry("n1", 1, (r(1), v6)),)))  # n1's IPv6 subnet added
    setup.programmer.reconcile("change")
    assert reported(setup, "n1") == [(5, "programmed"), (6, "programmed")]
    setup.table.apply(RouteFeed(7, False, (e(2),)))  # named again, routes unchanged
    setup.programmer.reconcile("change")
    assert reported(setup, "n2") == [(5, "programmed"), (7, "programmed")]
    assert reported(setup, "n1")[-1] == (6, "programmed")  # a node not named is not repeated


class EagerBook(ReportBook):
    """A report sender that takes a report at the worst moment: as soon as states arrive, before the run's tally."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: list[Report] = []

    def states(self, states: Mapping[NodeRef, tuple[str, str | None]]) -> None:
        super().states(states)
        report = self.take()
        if report is not None:
            self.taken.append(report)
            self.sent(report)


def test_states_never_leave_with_the_tally_of_an_older_run() -> None:
    """A state about a node that moved at revision 6 sent in a report saying revision 5 would be ignored by the
    controller (and never sent again)."""
    s = Setup()
    s.book = EagerBook()
    s.programmer = Programmer(s.backend, s.table, s.book, interval=0.2)
    try:
        s.table.apply(RouteFeed(5, True, (e(1),)))
        s.programmer.reconcile("startup")
        s.table.apply(RouteFeed(6, False, (e(2),)))
        s.programmer.reconcile("change")
        taken = [*s.book.taken, *([r] if (r := s.book.take()) is not None else [])]
        carried = [(rep.tally.revision, n) for rep in taken for (n, _) in rep.states]
        assert (6, "n2") in carried and (5, "n2") not in carried
    finally:
        s.programmer.stop()
