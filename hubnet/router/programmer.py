"""Keeps the router's kernel table equal to the desired table: the controller's own `Reconciler` over a route backend
(the `KernelBackend` in production: our protocol number only, batched netlink, never a foreign route, drift seen by
its netlink monitor), fed from the `DesiredTable` instead of a database.

Why this drives `Reconciler.reconcile_now` on a loop of its own instead of calling `Reconciler.start()`: started,
the reconciler hands route states to a thread of its own, so the counters of a run could reach the controllers
before the states of that same run — a report saying `complete: true` while the states that make the router's
nodes `programmed` were still on their way, which for one moment would count this router as holding nothing.
Unstarted, it hands them over synchronously inside the run, and the tally follows them.

Start-up: the loop starts only once the desired table has been read in full (`start()`), and its first run (the
`startup` trigger: a full state report, a sweep of routes of ours nobody wants) only then — nothing is flushed
before, so a restart of the agent does not blink the data plane.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace

from hubnet.loop import Backoff, Cause, SupervisedLoop
from hubnet.router.report import ReportBook
from hubnet.router.table import DesiredTable
from hubnet.router.tally import Tally, failed_run, missing_prefixes, tally_of
from hubnet.server.domain.routes import DesiredRoute, NodeRef
from hubnet.server.routing.base import RouteBackend
from hubnet.server.routing.reconciler import Reconciler

log = logging.getLogger("hubnet.router")


class Programmer:
    def __init__(
        self,
        backend: RouteBackend,
        table: DesiredTable,
        book: ReportBook,
        *,
        interval: float,
        on_report: Callable[[], None] = lambda: None,
    ) -> None:
        self.backend, self.table, self.book, self.on_report = backend, table, book, on_report
        self.reconciler = Reconciler(backend, load_desired=self._load, report=self._collect, interval=interval)
        self._loop = SupervisedLoop(
            "hubnet-router-reconcile",
            self._step,
            interval=interval,
            log=log,
            what="route reconcile",
            backoff=Backoff(first=0.2, cap=interval),
        )
        self._reason = "change"  # of the last trigger()
        self._running = "startup"  # the reason of the run in progress (a retry keeps it)
        self._run: tuple[int, int] = (0, 0)  # (revision, routes) of the desired set the run in progress loaded
        self._states: dict[NodeRef, tuple[str, str | None]] = {}  # the states of the run in progress
        self._started = threading.Lock()
        self._stopped = False

    @property
    def running(self) -> bool:
        return self._loop.running

    def update(self) -> None:
        """The desired table changed (or its revision moved): start the loop the first time (the table has been
        read in full), afterwards reconcile soon. Nothing after `stop()` (a long-poll may still answer then)."""
        with self._started:
            if self._stopped:
                return
            if not self._loop.running:
                self._watch()
                self._loop.start()
                return
        self.trigger("change")

    def trigger(self, reason: str = "change") -> None:
        """Reconcile soon; triggers before the loop wakes collapse into one run."""
        self._reason = reason
        self._loop.wake()

    def stop(self) -> None:
        """Stop the loop and the drift monitor. The routes stay in place (the next start reconciles, never
        flushes)."""
        with self._started:
            self._stopped = True
        self._loop.stop(timeout=30)
        self.reconciler.stop()  # closes the backend

    def _watch(self) -> None:
        try:  # watch first, so nothing that happens during the start-up reconcile goes unseen
            self.backend.watch(lambda: self.trigger("drift"))
        except Exception:
            log.exception("route watcher did not start; periodic reconcile still repairs drift")

    def _step(self, cause: Cause) -> None:
        if cause != "retry":  # a retry after a failure keeps the failed run's reason
            self._running = {"start": "startup", "timer": "periodic"}.get(cause, self._reason)
        self.reconcile(self._running)

    def reconcile(self, trigger: str) -> Tally:
        """One reconcile of the desired table, then its tally to the report book (and a report at once when it says
        something new). Raises what the reconcile raised (nothing applied then), after recording it."""
        self._states = {}
        try:
            result = self.reconciler.reconcile_now(trigger)
        except Exception as exc:
            tally = failed_run(self.book.tally, self._run[0], exc)
            self._record(tally)
            raise
        revision, routes = self._run
        tally = tally_of(result, revision=revision, desired=routes)
        if tally.missing:
            # read only: which missing prefixes does a route we do not own hold (the operator's first question)
            try:
                tally = replace(tally, foreign=len(self.backend.foreign(missing_prefixes(result))))
            except Exception:
                log.exception("could not look for foreign routes")
        self._record(tally)
        return tally

    def _record(self, tally: Tally) -> None:
        states, self._states = self._states, {}
        if self.book.record(tally, states):
            self.on_report()

    def _collect(self, states: Mapping[NodeRef, tuple[str, str | None]]) -> None:
        """The reconciler's report callback: kept until the run's tally, and handed to the book with it. A report
        must never pair a run's states with an older run's revision: the controller would ignore the states of nodes
        that moved in between (and they would not be sent again)."""
        self._states.update(states)

    def _load(self) -> list[DesiredRoute]:
        revision, desired = self.table.snapshot()
        self._run = (revision, len(desired))
        return desired
