"""Delivers per-node route states to the controller off the reconcile thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from server.domain.routes import NodeRef

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
        self.report, self.on_error = report, on_error
        self._pending: dict[K, tuple[str, str | None]] = {}
        self._cv = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop = False
            self._thread = threading.Thread(target=self._run, name="hubnet-route-report", daemon=True)
            self._thread.start()

    def submit(self, states: dict[K, tuple[str, str | None]]) -> None:
        if not states:
            return
        if self._thread is None:
            self.report(states)  # not started (tests, one-shot runs): report errors to the caller
            return
        with self._cv:
            self._pending.update(states)
            self._cv.notify()

    def stop(self, timeout: float = 10.0) -> None:
        """Deliver what is pending (one attempt), then stop the thread."""
        with self._cv:
            self._stop = True
            self._cv.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        failures = 0
        while True:
            with self._cv:
                while not self._pending and not self._stop:
                    self._cv.wait()
                if not self._pending:
                    return
                batch, self._pending = self._pending, {}
                stopping = self._stop
            try:
                self.report(batch)
                failures = 0
            except Exception:
                failures += 1
                self.on_error()
                log.exception("storing route states failed; retrying")
                with self._cv:
                    self._pending = {**batch, **self._pending}  # newer states win
                    if not stopping:
                        self._cv.wait(min(5.0, 0.1 * 2**failures))
            if stopping:
                return
