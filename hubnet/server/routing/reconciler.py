"""The route reconcile loop: desired (database) vs owned (router) → plan → idempotent apply.

When it runs: once at start-up, only after the desired set has loaded (it never flushes first, so a restart does
not blink the data plane); soon after every committed change (`trigger()`, coalesced); every `interval` seconds;
and at once when the backend's watcher sees one of our routes changed behind our back.

What a change costs: given `snapshot` and `changes` (the controller's event log), a run for a database change reads
only the nodes whose routes moved since the last run and the backend's record of those prefixes, and plans and
reports only them — a registration reaches the router in the same few milliseconds at 10 nodes and at 65,536. Every
other run (start-up, periodic, drift, a change after a failed run, too many changes) reads everything. A change run
does not even read the moved nodes when this process's writer handed them over (`hand`): every commit since the
last run, contiguous from its revision, each with its moved rows — the read was half of a change run's CPU, and at a
stream of registrations the controller runs one per write batch.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from hubnet.loop import Backoff, Cause, SupervisedLoop
from hubnet.net import Network
from hubnet.server.domain.routefeed import MAX_DELTA_EVENTS
from hubnet.server.domain.routeplan import after_apply, desired_table, plan, plan_table
from hubnet.server.domain.routes import (
    Changes,
    DesiredRoute,
    Handed,
    NodeRef,
    Route,
    RoutePlan,
    Snapshot,
    route_key,
)
from hubnet.server.routing.base import NullBackend, RouteBackend
from hubnet.server.routing.gcpause import gc_paused
from hubnet.server.routing.metrics import ReconcileMetrics, by_family
from hubnet.server.routing.reporter import StateReporter

log = logging.getLogger("hubnet.routing")

# node record (name, generation, primary address) → (state, error): the controller stores a state only on that
# record; a dual-stack node's routes (one per family) make one state.
Report = Callable[[dict[NodeRef, tuple[str, str | None]]], None]
# Told after every reconcile which owned routes the router holds now (asked lazily: building the set costs, and
# there is rarely a released record waiting for its route to go).
Withdrawals = Callable[[Callable[[], set[Route]]], object]
# The desired set with the event-log revision it is as of, and what moved after a revision (None: read in full).
LoadSnapshot = Callable[[], Snapshot]
LoadChanges = Callable[[int], "Changes | None"]
PROGRAMMED: tuple[str, str | None] = ("programmed", None)
FULL_REPORT_EVERY = 6  # periodic runs between two full route_state reports (changes are reported at once)
MAX_HANDED = 1024  # commits handed over and not yet planned from; more: the next change run reads instead


@dataclass(frozen=True)
class _Ahead:
    """What a full run's accounting and report need that no outcome of its apply changes (`Reconciler._prepare`):
    the routes to ask the backend about, desired and owned counts per family, the drift count, and the states and
    changes to report if no route fails and none waits (None in a dry run)."""

    asked: list[Route]
    desired: dict[int, int]
    owned: dict[int, int]
    drift: int
    clean: tuple[dict[NodeRef, tuple[str, str | None]], dict[NodeRef, tuple[str, str | None]]] | None


@dataclass(frozen=True)
class ReconcileResult:
    trigger: str
    plan: RoutePlan
    failed: dict[Network, str] = field(default_factory=dict)
    dry_run: bool = False
    seconds: float = 0.0


class Reconciler:
    """Runs the reconcile loop on a background thread; every public method is thread-safe."""

    def __init__(
        self,
        backend: RouteBackend,
        *,
        load_desired: Callable[[], list[DesiredRoute]],
        report: Report,
        interval: float = 10.0,
        dry_run: bool = False,
        registry: CollectorRegistry | None = None,
        withdrawals: Withdrawals | None = None,
        snapshot: LoadSnapshot | None = None,
        changes: LoadChanges | None = None,
    ) -> None:
        self.backend, self.load_desired, self.report, self.interval = backend, load_desired, report, interval
        self.withdrawals = withdrawals
        self.snapshot, self.changes = snapshot, changes
        self.dry_run = dry_run or isinstance(backend, NullBackend)
        self.metrics = ReconcileMetrics(registry if registry is not None else CollectorRegistry())
        self.last: ReconcileResult | None = None
        self._lock = threading.Lock()  # one reconcile at a time
        self._reason = "change"  # of the last trigger()
        self._running = "startup"  # the reason of the run in progress (a retry keeps it)
        # After a failure retry soon (capped backoff), e.g. the database is not reachable yet at start-up.
        self._loop = SupervisedLoop(
            "hubnet-reconciler",
            self._step,
            interval=interval,
            log=log,
            what="route reconcile",
            backoff=Backoff(first=0.2, cap=interval),
            on_error=self.metrics.errors.labels("reconcile").inc,
        )
        self._reported: dict[NodeRef, tuple[str, str | None]] = {}
        self._previous: dict[Network, Any] | None = None
        self._last_fresh = float("-inf")  # when the owned routes were last read in full
        self._periodic_runs = 0
        self._reporter: StateReporter[NodeRef] = StateReporter(
            report, on_error=self.metrics.errors.labels("report").inc
        )
        # The record a change run plans from: the revision of the last run's read, the desired routes by node and by
        # prefix as of it, and the gauges' counts. None: the next run reads everything (start-up, after a failure).
        self._revision: int | None = None
        self._by_node: dict[str, list[DesiredRoute]] = {}
        self._by_prefix: dict[Network, DesiredRoute] = {}
        self._counts: tuple[dict[int, int], dict[int, int]] = ({4: 0, 6: 0}, {4: 0, 6: 0})  # desired, owned
        self.delta_runs = 0  # change runs served from the record (tests, bench)
        self.handed_runs = 0  # of those, planned from handed-over commits without a read
        # Commits handed over since the last change run took them, in commit order; None: one that cannot be placed
        # (another process's), after which the next change run reads.
        self._handed: list[Handed | None] = []
        self._handed_upto: int | None = None  # the revision of the last commit handed over
        self._handed_lock = threading.Lock()
        self._clean = False  # the last run read or applied everything without an error or a failed route

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the loop; its first run is the start-up reconcile (sweeps stale routes, repairs missing ones)."""
        if self._loop.running:
            return
        self._reporter.start()
        try:  # watch first, so nothing that happens during the start-up reconcile goes unseen
            self.backend.watch(lambda: self.trigger("drift"))
        except Exception:
            log.exception("route watcher did not start; periodic reconcile still repairs drift")
        self._loop.start()

    def stop(self) -> None:
        """Stop the loop and the watcher. Routes stay in place (the next start reconciles, never flushes)."""
        self._loop.stop(timeout=30)
        self._reporter.stop()
        self.backend.close()

    def trigger(self, reason: str = "change") -> None:
        """Reconcile soon; many triggers before the loop wakes collapse into one run."""
        self._reason = reason
        self._loop.wake()

    def hand(self, handed: Handed | None) -> None:
        """A commit, as the writer hands it over (before it triggers); thread-safe, never blocks on a run."""
        with self._handed_lock:
            if len(self._handed) >= MAX_HANDED:
                self._handed = [None]
            else:
                self._handed.append(handed)
            self._handed_upto = None if handed is None else handed.revision

    def _step(self, cause: Cause) -> None:
        if cause != "retry":  # a retry after a failure keeps the failed run's reason
            self._running = {"start": "startup", "timer": "periodic"}.get(cause, self._reason)
        self.reconcile_now(self._running)

    # -- one reconcile -----------------------------------------------------------------------------------------
    def reconcile_now(self, trigger: str = "manual") -> ReconcileResult:
        """Load desired, list owned, plan, apply (unless dry run), report route states. Raises when the desired
        set cannot be read — then nothing is applied — or the owned routes cannot: then at most routes of ours at
        prefixes no desired route claims were deleted."""
        with self._lock:
            started = time.perf_counter()
            # A change run within the interval after a clean run may trust the backend's record (a BGP speaker's
            # table costs ~30 µs a path to read; the kernel's is kept true by its watcher); start-up, periodic and
            # drift runs read the router, and at least once an interval, so a stream of changes cannot starve the
            # drift repair. A run that raises or fails a route leaves no record: the next one reads everything.
            revision, self._revision = self._revision, None
            clean, self._clean = self._clean, False
            fresh = trigger != "change" or not clean or time.monotonic() - self._last_fresh >= self.interval
            if not fresh and revision is not None and not self.dry_run and self.changes is not None:
                done = self._reconcile_changes(trigger, started, revision)
                if done is not None:
                    return done
            # The record goes before the full read builds its successor: never two copies of 65,536 routes at once.
            self._by_node, self._by_prefix = {}, {}
            # The collector is paused only around the CPU-bound bulk phases, never across the database read or the
            # apply: the pause is process-wide, and a slow read or apply would leave every request thread without it.
            if self.snapshot is not None:  # first: without the desired set we must not touch anything
                revision, desired = self.snapshot()
            else:
                revision, desired = None, self.load_desired()
            with gc_paused():
                want = desired_table(desired)
                # A full read may start deleting what no desired route claims while it reads (the kernel's deletes
                # then run beside the parsing); the plan still lists those deletes.
                actual = self.backend.list_owned(fresh=fresh, keep=None if self.dry_run or not fresh else want)
                if fresh:
                    self._last_fresh = time.monotonic()
                todo = plan_table(want, actual)
            if trigger == "periodic":
                self._periodic_runs += 1
            # What needs no outcome of the apply (the gauges, the report of a run where nothing fails) is computed
            # while the router works on the plan: ~0.1 s at 65,536 routes that then cost no wall time.
            ahead: list[_Ahead] = []
            prepare = functools.partial(self._prepare, ahead, trigger, desired, want, actual, todo)
            if self.dry_run or todo.empty:
                failed: dict[Network, str] = {}
                prepare()
            else:
                failed = self.backend.apply(todo, prepare).failed
                if not ahead:  # a backend that did not run it
                    prepare()
            waiting: dict[Network, str] = {}
            if not self.dry_run:
                # the table is complete now (unless a route failed): a BGP speaker may add its peers
                self.backend.synced(complete=not failed)
                waiting = self.backend.undelivered(ahead[0].asked)
            result = ReconcileResult(trigger, todo, failed, self.dry_run, time.perf_counter() - started)
            with gc_paused():
                self._account(result, ahead[0])
                self._report_states(desired, actual, result, waiting, ahead[0])
            if not self.dry_run:
                self._previous = want
            if self.withdrawals is not None:  # released records whose route is gone now: their subnets are free
                dry = self.dry_run
                self.withdrawals(functools.cache(lambda: set(actual) if dry else after_apply(actual, todo, failed)))
            self._clean = not failed
            if revision is not None and not failed and not self.dry_run:
                with gc_paused():
                    self._remember(revision, desired)
            self.last = result
            return result

    def _remember(self, revision: int, desired: list[DesiredRoute]) -> None:
        """Keep what a full run read as the record change runs plan from."""
        by_node: dict[str, list[DesiredRoute]] = {}
        by_prefix: dict[Network, DesiredRoute] = {}
        for item in desired:
            by_node.setdefault(item.node, []).append(item)
            by_prefix[item.route.prefix] = item
        self._by_node, self._by_prefix = by_node, by_prefix
        self._revision = revision

    def _reconcile_changes(self, trigger: str, started: float, revision: int) -> ReconcileResult | None:
        """A change run from the record: the moved nodes' routes now against the backend's record of their old and
        new prefixes. None when it cannot be planned that way (the log was trimmed, too many changes, the backend
        keeps no record, a prefix's holder in the record is a node that did not move): the caller reads in full."""
        moved = self._take_handed(revision)
        if moved is not None:
            self.handed_runs += 1
        elif self.changes is not None:
            moved = self.changes(revision)
        if moved is None:
            return None
        old = [item for name in moved.nodes for item in self._by_node.get(name, ())]
        want = desired_table(moved.desired)
        for prefix in want:
            holder = self._by_prefix.get(prefix)
            if holder is not None and holder.node not in moved.nodes:
                log.warning("%s is %s's in the record but %s's now: reading in full", prefix, holder.node, want[prefix])
                return None
        prefixes = {item.route.prefix for item in old}
        prefixes.update(want)
        actual = self.backend.owned_at(prefixes)
        if actual is None:
            return None
        todo = plan_table(want, actual)
        failed = {} if todo.empty else self.backend.apply(todo).failed
        self.backend.synced(complete=not failed)
        waiting = self.backend.undelivered([d.route for d in moved.desired if d.state != PROGRAMMED])
        result = ReconcileResult(trigger, todo, failed, False, time.perf_counter() - started)
        self._account_changes(result, old, moved.desired)
        self._report_changes(moved.desired, old, result, waiting)
        for item in old:
            if self._by_prefix.get(item.route.prefix) is item:
                del self._by_prefix[item.route.prefix]
        for name in moved.nodes:
            self._by_node.pop(name, None)
        for item in moved.desired:
            self._by_node.setdefault(item.node, []).append(item)
            self._by_prefix[item.route.prefix] = item
        # Released records wait for their routes to go: asked when this run deleted a route or a node lost its
        # routes (a route already gone); a run that only added asks nobody (a read per registration otherwise).
        released = {item.node for item in old}.difference(item.node for item in moved.desired)
        if self.withdrawals is not None and (todo.delete or released):
            self.withdrawals(functools.cache(lambda: self._installed(prefixes, actual, todo, failed)))
        if not failed:
            self._revision, self._clean = moved.revision, True
        self.delta_runs += 1
        self.last = result
        return result

    def _take_handed(self, since: int) -> Changes | None:
        """The moves after `since` from the commits handed over, taken all at once; None (read them instead) unless
        they follow on from `since` without a gap, each with its rows, and none is another process's. A commit
        not handed over yet sets off a run of its own once it is. Nothing handed over: nothing new when the record is
        at the last commit handed over (a run that took it already), else read."""
        with self._handed_lock:
            queued, self._handed = self._handed, []
            upto = self._handed_upto
        at, nodes, rows = since, set[str](), dict[str, list[DesiredRoute]]()
        for item in queued:
            if item is None:
                return None
            if item.revision <= since:
                continue  # a full run read past it
            if item.base != at or item.changes is None:
                return None
            at = item.revision
            nodes.update(item.changes.nodes)
            for name in item.changes.nodes:
                rows[name] = []  # what an earlier commit said of the node is superseded
            for desired in item.changes.desired:
                rows.setdefault(desired.node, []).append(desired)
            if len(nodes) > MAX_DELTA_EVENTS:
                return None
        if at == since and since != upto:
            # nothing after `since` was handed over (none queued, or only commits a full run read past) and the record
            # is not at the last one handed over: a commit nobody handed over may lie between (another process's,
            # before the listener connected) — read
            return None
        moved = sorted((d for found in rows.values() for d in found), key=lambda d: route_key(d.route))
        return Changes(at, frozenset(nodes), moved)

    def _installed(
        self, touched: set[Network], actual: list[Route], todo: RoutePlan, failed: dict[Network, str]
    ) -> set[Route]:
        """Every owned route after a change run: the record's, except at the prefixes the run touched, where what
        the apply did to what was there (a failed prefix keeps what it had) — asked only while a released record
        waits for its route to go."""
        with gc_paused():
            kept = {r for r in self.backend.list_owned(fresh=False) if r.prefix not in touched}
            return kept | after_apply(actual, todo, failed)

    def _prepare(
        self,
        into: list[_Ahead],
        trigger: str,
        desired: list[DesiredRoute],
        want: dict[Network, Any],
        actual: list[Route],
        todo: RoutePlan,
    ) -> None:
        """Append to `into` what a full run's accounting and report need and no outcome of its apply changes."""
        with gc_paused():
            # Only routes not yet stored `programmed` are asked about: once delivered, a route stays in effect
            # (a BGP router keeps it under graceful restart across our restarts); a change resets the state.
            asked = [] if self.dry_run else [d.route for d in desired if d.state != PROGRAMMED]
            owned = by_family(actual)
            drift = 0
            clean: tuple[dict[NodeRef, tuple[str, str | None]], dict[NodeRef, tuple[str, str | None]]] | None = None
            if not self.dry_run:
                owned = by_family(todo.delete, -1, by_family(todo.add, 1, owned))
                if self._previous is not None:  # drift = changes the database did not ask for since the last run
                    previous = self._previous
                    changed = (*todo.add, *todo.replace, *todo.delete)
                    drift = sum(1 for r in changed if previous.get(r.prefix) == want.get(r.prefix))
                clean = self._changes(trigger, *self._states(desired, ReconcileResult(trigger, todo), None))
            into.append(_Ahead(asked, by_family(want.values()), owned, drift, clean))

    def _account(self, result: ReconcileResult, ahead: _Ahead) -> None:
        m = self.metrics
        m.runs.labels(result.trigger).inc()
        m.duration.observe(result.seconds)
        if not result.dry_run:
            m.applied(result.plan, len(result.failed))
            m.drift.inc(ahead.drift)
            self._counts = (ahead.desired, ahead.owned)
        m.counts(ahead.desired, ahead.owned)

    def _account_changes(self, result: ReconcileResult, old: list[DesiredRoute], new: list[DesiredRoute]) -> None:
        """The metrics of a change run: the gauges move by what changed (no run counts drift: the database asked)."""
        m = self.metrics
        m.runs.labels(result.trigger).inc()
        m.duration.observe(result.seconds)
        m.applied(result.plan, len(result.failed))
        desired, owned = self._counts
        by_family((d.route for d in old), -1, desired)
        by_family((d.route for d in new), 1, desired)
        by_family(result.plan.delete, -1, by_family(result.plan.add, 1, owned))
        m.counts(desired, owned)
        if self._previous is not None:
            for item in old:
                self._previous.pop(item.route.prefix, None)
            for item in new:
                self._previous[item.route.prefix] = item.route

    def _report_changes(
        self, desired: list[DesiredRoute], old: list[DesiredRoute], result: ReconcileResult, waiting: dict[Network, str]
    ) -> None:
        """Report the moved nodes' states that differ from what was reported or stored (their old records' entries
        are forgotten: a re-registered node is a new record)."""
        states, stored = self._states(desired, result, waiting)
        changes = {
            ref: state
            for ref, state in states.items()
            if self._reported.get(ref) != state or stored[ref] not in (None, state)
        }
        self._reporter.submit(changes)
        for item in old:
            self._reported.pop(item.ref, None)
        self._reported.update(states)

    def _states(
        self,
        desired: list[DesiredRoute],
        result: ReconcileResult,
        waiting: dict[Network, str] | None,
        present: set[Route] | None = None,
    ) -> tuple[dict[NodeRef, tuple[str, str | None]], dict[NodeRef, tuple[str, str | None] | None]]:
        """Per node record of `desired`: its state after `result` (`programmed`, `failed` + error, `pending` + why;
        a dry run's `present`: `programmed` when in place, else `pending`), and the state the database holds."""
        failed = result.failed
        if not failed and not waiting and present is None:  # every route in place: every node programmed
            stored = {item.ref: item.state for item in desired}
            return dict.fromkeys(stored, PROGRAMMED), stored
        stored = {}
        entries: dict[NodeRef, tuple[Route, tuple[str, str | None]]] = {}  # the node's first route and its state
        several: dict[NodeRef, list[tuple[Route, tuple[str, str | None]]]] = {}
        for item in desired:
            route = item.route
            ref = item.ref
            stored[ref] = item.state
            state: tuple[str, str | None]
            if present is not None:
                state = PROGRAMMED if route in present else ("pending", None)
            elif failed and (error := failed.get(route.prefix)):
                state = ("failed", error)
            elif waiting and (why := waiting.get(route.prefix)):
                state = ("pending", why)
            else:
                state = PROGRAMMED
            entry = (route, state)
            seen = entries.setdefault(ref, entry)
            if seen is not entry:  # the node's second route (dual-stack)
                several.setdefault(ref, [seen]).append(entry)
        states = {ref: entry[1] for ref, entry in entries.items()}
        for ref, parts in several.items():
            states[ref] = combine(parts)
        return states, stored

    def _report_states(
        self,
        desired: list[DesiredRoute],
        actual: list[Route],
        result: ReconcileResult,
        waiting: dict[Network, str],
        ahead: _Ahead,
    ) -> None:
        """Per node: `programmed`, or `failed` + error, or `pending` + why while a route in place is not in effect
        yet (`waiting`: a BGP path no Established session has received); in dry run `programmed` only when already in
        place. A node with a route per family gets one state for all of them (`combine`)."""
        if ahead.clean is not None and not result.failed and not waiting:
            states, changes = ahead.clean
        else:
            present = set(actual) if result.dry_run else None  # hashing 65,536 routes costs; only a dry run asks
            states, changes = self._changes(result.trigger, *self._states(desired, result, waiting, present))
        self._reporter.submit(changes)
        self._reported = states

    def _changes(
        self,
        trigger: str,
        states: dict[NodeRef, tuple[str, str | None]],
        stored: dict[NodeRef, tuple[str, str | None] | None],
    ) -> tuple[dict[NodeRef, tuple[str, str | None]], dict[NodeRef, tuple[str, str | None]]]:
        """`states` and what of them to report: changes are reported at once, against what we last reported and
        against what the database holds (loaded with the desired set), so a state the controller reset meanwhile
        (a re-join, a delete + re-register between two runs) is reported again. A full report now and then heals
        anything else."""
        periodic_full = trigger == "periodic" and self._periodic_runs % FULL_REPORT_EVERY == 0
        if trigger == "startup" or periodic_full:
            return states, dict(states)
        reported = self._reported
        return states, {
            ref: state
            for ref, state in states.items()
            if reported.get(ref) != state or stored[ref] not in (None, state)
        }

    # -- read-only views ---------------------------------------------------------------------------------------
    def drift(self) -> dict[str, Any]:
        """The drift report, fresh from the database and the router, as JSON-ready values:
        {"desired", "actual", "missing", "unexpected"} (the contract), "foreign" (missing prefixes that a route we
        do not own holds: prefix and holder), plus "plan" (what a reconcile would do
        now: add / replace / delete) and "dry_run"."""
        desired = self.load_desired()
        with self._lock, gc_paused():
            actual = self.backend.list_owned()
        with gc_paused():
            have = set(actual)
            want = {d.route for d in desired}
            todo = plan(desired, actual)
            missing = [d for d in desired if d.route not in have]
        with self._lock:  # read only where something is missing: a foreign route may be why
            foreign = self.backend.foreign({d.route.prefix for d in missing}) if missing else {}
        return {
            "desired": [_row(d.route, d.node) for d in desired],
            "actual": [_row(r) for r in sorted(have, key=_order)],
            "missing": [_row(d.route, d.node) for d in missing],
            "unexpected": [_row(r) for r in sorted(have - want, key=_order)],
            "foreign": [{"prefix": str(p), "holder": holder} for p, holder in sorted(foreign.items(), key=_by_net)],
            "plan": {
                "add": [_row(r) for r in todo.add],
                "replace": [_row(r) for r in todo.replace],
                "delete": [_row(r) for r in todo.delete],
            },
            "dry_run": self.dry_run,
        }

    def pending_plan(self) -> RoutePlan:
        """What a reconcile would do now (the dry-run view); applies nothing."""
        desired = self.load_desired()
        with self._lock:
            return plan(desired, self.backend.list_owned())


def combine(parts: list[tuple[Route, tuple[str, str | None]]]) -> tuple[str, str | None]:
    """One node's state from the states of its routes (one per family): `failed` when any failed, the error naming
    each failed route's family ("IPv6: failed to add route ..."); else `pending` when any is; else `programmed`."""
    errors = [f"IPv{route.family}: {error}" for route, (state, error) in parts if state == "failed"]
    if errors:
        return "failed", "; ".join(errors)
    waiting = [(route, why) for route, (state, why) in parts if state == "pending"]
    if waiting:
        whys = [f"IPv{route.family}: {why}" for route, why in waiting if why]
        return "pending", "; ".join(whys) or None
    return "programmed", None


_order = route_key  # IPv4 first, then numerically: ipaddress objects of two families do not compare


def _by_net(item: tuple[Network, str]) -> tuple[int, int, int]:
    return item[0].version, int(item[0].network_address), item[0].prefixlen


def _row(route: Route, node: str | None = None) -> dict[str, str]:
    row = {"prefix": str(route.prefix), "next_hop": str(route.next_hop)}
    if node is not None:
        row["node"] = node
    return row
