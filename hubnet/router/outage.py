"""Logging a run of failures without flooding the log: the router agent retries every second while no controller
answers, for as long as that lasts (minutes, in a partition)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from hubnet.node.agent.client import UntrustedController

REPEAT = 30.0  # seconds between two log lines of one outage


class Outage:
    """`failed(exc)` logs the first failure of a run, a changed error, and then one line every REPEAT seconds with
    the count; `ok()` logs the end of the run. A TLS refusal is an error (never just a warning): an impostor or a
    wrong CA file must be seen."""

    def __init__(self, log: logging.Logger, what: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.log, self.what, self.clock = log, what, clock
        self.failures = 0
        self._since = 0.0
        self._logged_at = float("-inf")
        self._last = ""

    def failed(self, exc: Exception) -> None:
        now, message = self.clock(), str(exc)
        if not self.failures:
            self._since = now
        self.failures += 1
        if message == self._last and now - self._logged_at < REPEAT:
            return
        level = logging.ERROR if isinstance(exc, UntrustedController) else logging.WARNING
        count = f" ({self.failures} attempts in {now - self._since:.0f}s)" if self.failures > 1 else ""
        self.log.log(level, "%s: %s%s; keeping the routes as they are, retrying", self.what, message, count)
        self._last, self._logged_at = message, now

    def ok(self) -> None:
        if self.failures:
            seconds = self.clock() - self._since
            self.log.info(
                "%s: a controller answers again (after %d failures, %.1fs)", self.what, self.failures, seconds
            )
        self.failures, self._last, self._logged_at = 0, "", float("-inf")
