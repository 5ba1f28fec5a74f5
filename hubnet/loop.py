"""One supervised background loop: a daemon thread that runs a step, waits, and runs it again until stopped.

Every long-lived loop of the project has the same shape: start once, run a step now, then again every interval or
sooner when woken; an exception in a step is logged and the loop keeps going, retrying after a short capped
backoff; stop wakes the thread and joins it with a timeout. This is that shape, written once (stdlib only: the
shared package's floor, so the server and the node side can both use it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

# Why a step runs: the first run, woken by `wake()`, the interval elapsed, or a retry after a failed step (the
# backoff elapsed). `stop` is the one extra run a `final_step` loop makes after `stop()`.
Cause = Literal["start", "wake", "timer", "retry", "stop"]


@dataclass(frozen=True)
class Backoff:
    """Retry a failed step after `first * 2**failures` seconds, at most `cap` (and never later than the interval)."""

    first: float = 0.1
    cap: float = 5.0

    def delay(self, failures: int) -> float:
        return min(self.cap, self.first * 2.0**failures)


class SupervisedLoop:
    """Runs `step(cause)` on a daemon thread: at once (even if `stop()` came first), then after `interval` seconds
    (None: only when woken) or at once when `wake()` was called meanwhile (wakes coalesce). A step that raises is
    logged with `what` (and counted by `on_error`); the next run is a retry after `backoff`, or after the interval
    when `backoff` is None.

    `final_step`: after `stop()`, run the step once more (cause "stop") before the thread ends, e.g. to deliver what
    is pending. `stop()` is idempotent and waits at most `timeout` seconds for the thread.
    """

    def __init__(
        self,
        name: str,
        step: Callable[[Cause], object],
        *,
        interval: float | None,
        log: logging.Logger,
        what: str,
        backoff: Backoff | None = None,
        on_error: Callable[[], None] | None = None,
        final_step: bool = False,
    ) -> None:
        self.name, self.step, self.interval, self.log, self.what = name, step, interval, log, what
        self.backoff, self.on_error, self.final_step = backoff, on_error, final_step
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Start the thread (once; a stopped loop can be started again)."""
        with self._lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Run the step soon; many wakes before the thread gets to it collapse into one run."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to end (after the step it is in, and the final step if asked for) and join it."""
        with self._lock:
            thread, self._thread = self._thread, None
        self._stop.set()
        self._wake.set()
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        cause: Cause = "start"
        failures = 0
        while True:  # the first step runs even when stop() came first: a short-lived process still gets one pass
            failures = 0 if self._step(cause) else failures + 1
            if self._stop.is_set():
                break
            woken = self._wake.wait(self._wait(failures))
            self._wake.clear()
            if self._stop.is_set():
                break
            cause = "wake" if woken else ("retry" if failures else "timer")
        if self.final_step:
            self._step("stop")

    def _wait(self, failures: int) -> float | None:
        if not failures or self.backoff is None:
            return self.interval
        delay = self.backoff.delay(failures)
        return delay if self.interval is None else min(self.interval, delay)

    def _step(self, cause: Cause) -> bool:
        try:
            self.step(cause)
            return True
        except Exception:
            if self.on_error is not None:
                self.on_error()
            self.log.exception("%s failed (%s); retrying", self.what, cause)
            return False
