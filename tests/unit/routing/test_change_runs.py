"""Change runs planned from the reconciler's record (the event log's moved nodes) against the FakeBackend: what they
read, what they touch, and every case in which they must fall back to reading everything."""

from __future__ import annotations

import contextlib
from ipaddress import IPv4Address, IPv4Network

from prometheus_client import CollectorRegistry

from hubnet.server.domain.routes import Changes, DesiredRoute, Handed, NodeRef, Route, Snapshot
from hubnet.server.routing.fake import FakeBackend
from hubnet.server.routing.reconciler import MAX_HANDED, Reconciler

States = dict[str, tuple[str, str | None]]


def r(n: int, hop: int = 0) -> Route:
    return Route(IPv4Network(f"10.{n // 256}.{n % 256}.0/24"), IPv4Address(f"192.168.{n // 200}.{hop or 10 + n % 200}"))


class Log:
    """The database side: live nodes, an event log of which node moved at which revision, reports received."""

    def __init__(self, n: int) -> None:
        self.nodes: dict[str, DesiredRoute] = {f"node-{i}": DesiredRoute(f"node-{i}", r(i)) for i in range(n)}
        self.events: list[str] = []  # revision i + 1 moved events[i]
        self.trimmed = 0  # events up to this revision are gone from the log
        self.snapshots = 0
        self.reads: list[int] = []  # `since` of every changes() call
        self.reports: list[States] = []

    def move(self, name: str, route: Route | None) -> None:
        """Register / move (a route) or release (None) a node, with its event."""
        if route is None:
            self.nodes.pop(name, None)
        else:
            self.nodes[name] = DesiredRoute(name, route)
        self.events.append(name)

    def load(self) -> list[DesiredRoute]:
        return sorted(self.nodes.values(), key=lambda d: int(d.route.prefix.network_address))

    def snapshot(self) -> Snapshot:
        self.snapshots += 1
        return Snapshot(len(self.events), self.load())

    def changes(self, since: int) -> Changes | None:
        self.reads.append(since)
        if since < self.trimmed or since == 0:
            return None
        names = frozenset(self.events[since:])
        return Changes(len(self.events), names, [self.nodes[n] for n in sorted(names) if n in self.nodes])

    def report(self, states: dict[NodeRef, tuple[str, str | None]]) -> None:
        self.reports.append({ref.name: state for ref, state in states.items()})


def make(log: Log, backend: FakeBackend, **kw: object) -> Reconciler:
    return Reconciler(
        backend,
        load_desired=log.load,
        report=log.report,
        snapshot=log.snapshot,
        changes=log.changes,
        **kw,  # type: ignore[arg-type]
    )


def started(n: int, **kw: object) -> tuple[Log, FakeBackend, Reconciler]:
    log, backend = Log(n), FakeBackend({r(0)})
    log.events.append("seed")  # revision 1: a change run after start-up may plan from the record
    rec = make(log, backend, **kw)
    rec.reconcile_now("startup")
    assert backend.routes == {d.route for d in log.nodes.values()}
    log.reports.clear()
    return log, backend, rec


def test_a_change_run_plans_only_the_moved_nodes() -> None:
    log, backend, rec = started(1000)
    log.move("node-5", r(5, 199))  # a new address: one replace
    log.move("node-7", None)  # released: its route goes
    log.move("node-new", r(2000))  # registered
    result = rec.reconcile_now("change")
    assert rec.delta_runs == 1 and log.snapshots == 1 and log.reads == [1]
    assert (result.plan.add, result.plan.replace, result.plan.delete) == ((r(2000),), (r(5, 199),), (r(7),))
    assert backend.routes == {d.route for d in log.nodes.values()}
    # the moved nodes only (node-5's new address is a new report key); node-7's record is gone
    assert log.reports == [{"node-5": ("programmed", None), "node-new": ("programmed", None)}]
    # and the next change run starts where this one ended
    log.move("node-7", r(7))
    rec.reconcile_now("change")
    assert log.reads == [1, 4] and rec.delta_runs == 2 and backend.routes == {d.route for d in log.nodes.values()}


def test_the_record_keeps_gauges_equal_to_a_full_run() -> None:
    registry = CollectorRegistry()
    log, _, rec = started(50, registry=registry)
    for i in range(10):
        log.move(f"node-{i}", None)
    log.move("node-x", r(3000))
    rec.reconcile_now("change")
    assert rec.delta_runs == 1

    def gauges() -> tuple[float | None, float | None]:
        return registry.get_sample_value("hubnet_routes_desired"), registry.get_sample_value("hubnet_routes_owned")

    assert gauges() == (41.0, 41.0)
    rec.reconcile_now("periodic")
    assert gauges() == (41.0, 41.0)


def test_every_run_but_a_change_reads_everything() -> None:
    log, _, rec = started(5)
    for trigger in ("periodic", "drift", "startup", "manual"):
        log.move("node-1", r(1, 150))
        rec.reconcile_now(trigger)
    assert rec.delta_runs == 0 and log.snapshots == 5 and log.reads == []


def test_a_trimmed_log_means_a_full_read() -> None:
    log, backend, rec = started(5)
    log.move("node-1", r(1, 150))
    log.trimmed = 2
    rec.reconcile_now("change")
    assert rec.delta_runs == 0 and log.snapshots == 2 and backend.routes == {d.route for d in log.nodes.values()}


def test_a_backend_without_a_record_means_a_full_read() -> None:
    log, backend, rec = started(5)
    backend.recorded = False
    log.move("node-1", r(1, 150))
    rec.reconcile_now("change")
    assert rec.delta_runs == 0 and log.snapshots == 2 and backend.routes == {d.route for d in log.nodes.values()}


def test_a_prefix_held_by_a_node_that_did_not_move_means_a_full_read() -> None:
    """The record and the database disagree (node-2 holds 10.0.3.0/24 in the record, yet node-x got it without
    node-2's release in the log): never plan from such a record."""
    log, backend, rec = started(5)
    log.nodes.pop("node-3")  # gone without an event
    log.move("node-x", r(3, 150))
    rec.reconcile_now("change")
    assert rec.delta_runs == 0 and log.snapshots == 2
    assert backend.routes == {d.route for d in log.nodes.values()}


def test_after_a_failed_route_the_next_change_run_reads_everything_and_retries() -> None:
    log, backend, rec = started(5)
    backend.fail[r(6).prefix] = "Network is unreachable"
    log.move("node-6", r(6))
    rec.reconcile_now("change")
    assert rec.delta_runs == 1 and log.reports[-1] == {"node-6": ("failed", "Network is unreachable")}
    backend.fail.clear()
    log.move("node-1", r(1, 150))
    rec.reconcile_now("change")
    assert rec.delta_runs == 1 and log.snapshots == 2  # read in full: the failed route is retried with the change
    assert backend.routes == {d.route for d in log.nodes.values()}
    assert log.reports[-1]["node-6"] == ("programmed", None)
    log.move("node-2", r(2, 150))
    rec.reconcile_now("change")
    assert rec.delta_runs == 2  # clean again: back to the record


def test_a_run_that_raised_leaves_no_record() -> None:
    log, backend, rec = started(5)
    backend.broken = "netlink socket closed"
    log.move("node-1", r(1, 150))
    with contextlib.suppress(RuntimeError):
        rec.reconcile_now("periodic")
    backend.broken = None
    log.move("node-2", r(2, 150))
    rec.reconcile_now("change")
    assert rec.delta_runs == 0 and log.snapshots == 3
    assert backend.routes == {d.route for d in log.nodes.values()}


def test_withdrawals_see_routes_the_change_run_did_not_touch() -> None:
    """A released record waits until its route is gone: a change run that touched other prefixes must still say
    that route is there (it reads the record for everything it did not touch)."""
    seen: list[set[Route]] = []
    log, backend, rec = started(5, withdrawals=lambda installed: seen.append(installed()))
    asked = len(seen)
    log.move("node-9", r(9))
    rec.reconcile_now("change")
    assert rec.delta_runs == 1 and len(seen) == asked  # only added: nobody's route can have gone
    log.move("node-2", None)
    rec.reconcile_now("change")
    assert rec.delta_runs == 2 and len(seen) == asked + 1
    assert seen[-1] == backend.routes and r(0) in seen[-1] and r(9) in seen[-1] and r(2) not in seen[-1]


# -- commits handed over by this process's writer ---------------------------------------------------------------------
def handed(log: Log, names: list[str]) -> Handed:
    """Move nothing more; hand over the last `len(names)` events of the log as one commit, with its rows."""
    revision = len(log.events)
    moved = frozenset(names)
    desired = [log.nodes[n] for n in sorted(moved) if n in log.nodes]
    return Handed(revision - len(names), revision, Changes(revision, moved, desired))


def test_a_change_run_plans_from_handed_commits_without_reading() -> None:
    log, backend, rec = started(100)
    log.move("node-new", r(500))
    log.move("node-3", None)
    rec.hand(handed(log, ["node-new", "node-3"]))
    log.move("node-4", r(4, 77))  # a second commit, contiguous
    rec.hand(handed(log, ["node-4"]))
    result = rec.reconcile_now("change")
    assert log.reads == [] and rec.handed_runs == 1 and rec.delta_runs == 1
    assert (result.plan.add, result.plan.replace, result.plan.delete) == ((r(500),), (r(4, 77),), (r(3),))
    assert backend.routes == {d.route for d in log.nodes.values()}
    # the record is at the last handed revision: the next commit follows on from it
    log.move("node-new", None)
    rec.hand(handed(log, ["node-new"]))
    rec.reconcile_now("change")
    assert log.reads == [] and rec.handed_runs == 2 and backend.routes == {d.route for d in log.nodes.values()}


def test_the_later_commit_of_a_node_wins() -> None:
    log, backend, rec = started(10)
    log.move("node-x", r(600))
    rec.hand(handed(log, ["node-x"]))
    log.move("node-x", None)  # registered, then released, before the run
    rec.hand(handed(log, ["node-x"]))
    result = rec.reconcile_now("change")
    assert rec.handed_runs == 1 and result.plan.empty and r(600) not in backend.routes


def test_a_commit_without_rows_a_gap_or_another_process_means_a_read() -> None:
    log, backend, rec = started(10)
    cases: list[tuple[str, list[Handed | None]]] = []
    # without rows: its use cases did not say every moved row
    log.move("node-1", r(1, 150))
    cases.append(("no rows", [Handed(len(log.events) - 1, len(log.events), None)]))
    for why, items in cases:
        for item in items:
            rec.hand(item)
        reads = len(log.reads)
        rec.reconcile_now("change")
        assert len(log.reads) == reads + 1, why
        assert backend.routes == {d.route for d in log.nodes.values()}, why
    # a gap: another process committed the revision in between (its commit was not handed over)
    log.move("node-2", r(2, 150))  # another process's
    log.move("node-3", r(3, 150))
    rec.hand(handed(log, ["node-3"]))
    rec.reconcile_now("change")
    assert len(log.reads) == 2 and backend.routes == {d.route for d in log.nodes.values()}
    # another process's commit, learnt from the log (None), behind a handed one
    log.move("node-4", r(4, 150))
    rec.hand(handed(log, ["node-4"]))
    log.move("node-5", r(5, 150))
    rec.hand(None)
    rec.reconcile_now("change")
    assert len(log.reads) == 3 and backend.routes == {d.route for d in log.nodes.values()}
    # commits a full run already read past are skipped; what follows on is used
    log.move("node-6", r(6, 150))
    rec.hand(handed(log, ["node-6"]))
    rec.reconcile_now("periodic")
    log.move("node-7", r(7, 150))
    rec.hand(handed(log, ["node-7"]))
    rec.reconcile_now("change")
    assert len(log.reads) == 3 and rec.handed_runs == 1
    assert backend.routes == {d.route for d in log.nodes.values()}


def test_too_many_commits_waiting_means_a_read() -> None:
    log, backend, rec = started(10)
    for i in range(MAX_HANDED + 1):
        log.move(f"node-{i % 10}", r(i % 10, 100 + i % 90))
        rec.hand(handed(log, [f"node-{i % 10}"]))
    rec.reconcile_now("change")
    assert log.reads == [1] and rec.handed_runs == 0
    assert backend.routes == {d.route for d in log.nodes.values()}


def test_a_second_trigger_of_a_commit_already_planned_reads_nothing() -> None:
    log, backend, rec = started(10)
    log.move("node-x", r(700))
    rec.hand(handed(log, ["node-x"]))
    rec.reconcile_now("change")
    result = rec.reconcile_now("change")  # the commit's own trigger, after a run triggered earlier took it
    assert log.reads == [] and rec.handed_runs == 2 and result.plan.empty
    assert backend.routes == {d.route for d in log.nodes.values()}


def test_only_commits_a_full_run_read_past_means_a_read() -> None:
    """A commit handed over before a full run, then another process's commit nobody handed over (its listener was
    not connected yet): the change run must not take the skipped hand-off for 'nothing new'."""
    log, backend, rec = started(10)
    log.move("node-1", r(1, 150))
    rec.hand(handed(log, ["node-1"]))  # revision 2
    log.move("node-2", r(2, 150))  # revision 3, another process's
    rec.reconcile_now("periodic")  # reads up to 3
    log.move("node-3", r(3, 150))  # revision 4, another process's, not handed over
    rec.hand(handed(log, ["node-1"])._replace(base=0, revision=2))  # a late duplicate of revision 2 (skipped)
    rec.reconcile_now("change")
    assert log.reads == [3] and backend.routes == {d.route for d in log.nodes.values()}
