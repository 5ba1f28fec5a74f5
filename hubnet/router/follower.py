"""Joins the controllers, then follows the desired-route feed into the `DesiredTable`: the whole table first
(`since=0`), then long-polls for what changed since the revision the table reflects.

Fail static: a request no controller answers (every one tried, at once, by the client) changes nothing — the table
stays as it was, the kernel keeps its routes, the reconciler keeps repairing drift towards that table — and the
request is retried every second. When a controller answers again the feed resumes from the last revision; the
controller answers `full: true` when that is too old, and the table is replaced.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from hubnet.loop import Backoff
from hubnet.node.agent.client import FAILOVER_STATUSES, ControllerError, Unreachable, UntrustedController
from hubnet.router.api import RouterApi
from hubnet.router.config import LONG_POLL
from hubnet.router.feed import FeedError
from hubnet.router.outage import Outage
from hubnet.router.table import DesiredTable

log = logging.getLogger("hubnet.router")

RETRY = 1.0  # seconds between two attempts while no controller answers
REFUSED = Backoff(first=1.0, cap=10.0)  # a controller that answers but refuses: a configuration problem, ask slower
REJOIN = frozenset({401, 403, 404})  # our secret is not (or no longer) accepted, or the router record is gone


class Follower:
    """One `step()` is one request; it returns the seconds to wait before the next. Not thread-safe: one thread."""

    def __init__(
        self,
        api: RouterApi,
        table: DesiredTable,
        *,
        token: str | None,
        on_update: Callable[[], None],
        long_poll: int = LONG_POLL,
    ) -> None:
        self.api, self.table, self.token, self.on_update, self.long_poll = api, table, token, on_update, long_poll
        self.joined = False
        self.refusals = 0
        self.outage = Outage(log, "routes feed")

    def run(self, stop: threading.Event) -> None:
        """Step until `stop` is set (a step in progress — a long-poll — is not interrupted: run it on a daemon
        thread)."""
        delay = 0.0
        while not stop.wait(delay):
            try:
                delay = self.step()
            except Exception:  # a bug must not end the feed: the router would silently stop following
                log.exception("routes feed: unexpected failure; retrying")
                delay = RETRY

    def step(self) -> float:
        try:
            if not self.joined and self.token is not None:  # None: a node agent in direct mode, registered already
                self._join()
            since = self.table.since
            feed = self.api.routes(since, self.long_poll if since else 0)  # the whole table at once, never waited for
            moved = self.table.apply(feed)
        except ControllerError as exc:
            return self._failed(exc)
        except FeedError as exc:  # nothing applied: the last table stands
            return self._refused(f"routes feed: refusing a malformed answer: {exc}")
        self.outage.ok()
        self.refusals = 0
        if moved:
            if since == 0:
                log.info(
                    "desired table read in full: %d node(s) at revision %d", len(self.table.nodes()), feed.revision
                )
            self.on_update()
        return 0.0

    def _join(self) -> None:
        assert self.token is not None
        try:
            self.api.join(self.token)
        except ControllerError as exc:
            if exc.status not in (401, 403):
                raise
            # The token expired or was revoked since the first join: our secret may still be accepted.
            log.warning("join refused (%s); following the feed with the stored secret", exc)
        else:
            log.info("joined as router %r at %s", self.api.name, self.api.client.base_url)
        self.joined = True

    def _failed(self, exc: ControllerError) -> float:
        if isinstance(exc, (Unreachable, UntrustedController)) or exc.status in FAILOVER_STATUSES:
            self.outage.failed(exc)  # no controller answered: fail static
            return RETRY
        if exc.status in REJOIN:
            self.joined = False
            again = "joining again" if self.token is not None else "retrying"
            return self._refused(f"routes feed: the controller refuses {self.api.name!r} ({exc}); {again}")
        return self._refused(f"routes feed: {exc}")

    def _refused(self, message: str) -> float:
        self.refusals += 1
        delay = REFUSED.delay(self.refusals - 1)
        log.error("%s; retry in %.0fs", message, delay)
        return delay
