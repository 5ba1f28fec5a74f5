"""Delivers per-node route states to the controller off the reconcile thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from hubnet.loop import Backoff, Cause, SupervisedLoop
from hubnet.server.domain.routes import NodeRef

log = logging.getLogger("hubnet.routing")

K = TypeVar("K", bound=Hashable)
States = dict[NodeRef, tuple[str, str | None]]  # what the reconciler reports


class StateReporter(Generic[K]):
    """Calls `report(states)` on its own thread once started; synchronously before that.

    Why a thread: the report is a database write, and under a burst of registrations SQLite's single writer lock
    can hold it for tens of milliseconds. The next reconcile, which programs the routes of the nodes that just
    registered, must not wait for it. Pending states coalesce per node record (the latest wins). A failed report is
    retried with capped backoff, with newer states merged over it, so nothing is lost while the thread runs.
    """

    def __init__(self, report: Callable[[dict[K, tuple[str, str | None]]], None], on_error: Callable[[], None]) -> None:
        self.report = report
        self._pending: dict[K, tuple[str, str | None]] = {}
        self._lock = threading.Lock()
        # Woken by submit() (no timer); a failed report is retried after a capped backoff (a new submit retries at
        # once); stop() delivers what is pending with one last attempt.
        self._loop = SupervisedLoop(
            "hubnet-route-report",
            self._deliver,
            interval=None,
            log=log,
            what="storing route states",
            backoff=Backoff(first=0.1, cap=5.0),
            on_error=on_error,
            final_step=True,
        )

    def start(self) -> None:
        self._loop.start()

    def submit(self, states: dict[K, tuple[str, str | None]]) -> None:
        if not states:
            return
        if not self._loop.running:
            self.report(states)  # not started (tests, one-shot runs): report errors to the caller
            return
        with self._lock:
            self._pending.update(states)
        self._loop.wake()

    def stop(self, timeout: float = 10.0) -> None:
        """Deliver what is pending (one attempt), then stop the thread."""
        self._loop.stop(timeout)

    def _deliver(self, _cause: Cause) -> None:
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return
        try:
            self.report(batch)
        except Exception:
            with self._lock:
                self._pending = {**batch, **self._pending}  # newer states win
            raise
