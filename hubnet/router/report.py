"""Reports to the controllers (`POST /v1/routers/{name}/report`): the tally of the last reconcile and the route
states not yet delivered, sent at once after a reconcile that changed something and at least every
`report-interval` seconds (the heartbeat that keeps the router `up`).

States coalesce per node record (the latest wins); a report that fails keeps its states for the next one, newer
states merged over them, so nothing is lost while no controller answers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hubnet.loop import Cause, SupervisedLoop
from hubnet.node.agent.client import ControllerError
from hubnet.router.api import MAX_STATES, RouterApi
from hubnet.router.outage import Outage
from hubnet.router.tally import Tally
from hubnet.server.domain.routes import NodeRef

log = logging.getLogger("hubnet.router")

StateKey = tuple[str, int]  # (node, generation): what the controller keys a router's state by
State = tuple[str, str | None]  # (pending|programmed|failed, error)


@dataclass(frozen=True)
class Report:
    """One report: the tally and the states it carries."""

    tally: Tally
    states: dict[StateKey, State]

    def body(self) -> dict[str, Any]:
        """The contract's request body."""
        body = self.tally.body()
        body["states"] = [
            {"node": node, "generation": generation, "state": state, "error": error}
            for (node, generation), (state, error) in self.states.items()
        ]
        return body


class ReportBook:
    """What the next report says. Thread-safe: the reconcile thread writes, the report thread takes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tally: Tally | None = None
        self._sent: Tally | None = None  # the tally of the last report the controller accepted
        self._pending: dict[StateKey, State] = {}

    def states(self, states: Mapping[NodeRef, State]) -> None:
        """The reconciler's report callback: route states that changed (or all of them, now and then)."""
        with self._lock:
            for ref, state in states.items():
                self._pending[ref.name, ref.generation] = state

    def record(self, tally: Tally, states: Mapping[NodeRef, State] | None = None) -> bool:
        """The tally of the reconcile that just ended, with the states that run reported (one step: a report taken
        meanwhile must not carry them under the previous run's revision). True when a report is due at once: the
        tally differs from the last one sent, or states wait."""
        with self._lock:
            for ref, state in (states or {}).items():
                self._pending[ref.name, ref.generation] = state
            self._tally = tally
            return tally != self._sent or bool(self._pending)

    @property
    def tally(self) -> Tally | None:
        return self._tally

    def take(self) -> Report | None:
        """The next report (at most MAX_STATES states; the rest wait for the next one), or None before the first
        reconcile (there is nothing to say yet)."""
        with self._lock:
            if self._tally is None:
                return None
            keys = list(self._pending)[:MAX_STATES]
            return Report(self._tally, {key: self._pending.pop(key) for key in keys})

    def sent(self, report: Report) -> bool:
        """The controller accepted `report`; True when more states wait."""
        with self._lock:
            self._sent = report.tally
            return bool(self._pending)

    def failed(self, report: Report) -> None:
        """`report` did not arrive: keep its states, newer ones win."""
        with self._lock:
            self._pending = {**report.states, **self._pending}


class ReportSender:
    """Sends reports on its own thread: every `interval` seconds, and at once when woken. A failed report is logged
    (once per outage, then every 30 s) and retried with the next one; on stop, one last report."""

    def __init__(self, api: RouterApi, book: ReportBook, *, interval: float) -> None:
        self.api, self.book = api, book
        self._outage = Outage(log, "report")
        self._loop = SupervisedLoop(
            "hubnet-router-report", self._step, interval=interval, log=log, what="route report", final_step=True
        )

    def start(self) -> None:
        self._loop.start()

    def wake(self) -> None:
        self._loop.wake()

    def stop(self, timeout: float = 10.0) -> None:
        self._loop.stop(timeout)

    def _step(self, _cause: Cause) -> None:
        report = self.book.take()
        if report is None:
            return
        try:
            self.api.report(report.body())
        except ControllerError as exc:
            self.book.failed(report)
            self._outage.failed(exc)
            return
        self._outage.ok()
        if self.book.sent(report):
            self._loop.wake()  # more than one report's worth of states: the rest at once
