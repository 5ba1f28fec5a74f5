"""Commits of other controller processes, as they happen: PostgreSQL LISTEN/NOTIFY.

Every write batch that appended events runs `NOTIFY hubnet_events, '<revision>'` in its own transaction
(`Repository.notify_commit`), so PostgreSQL delivers it when, and only if, the batch commits. One listener thread
per process holds its own connection (autocommit) with `LISTEN hubnet_events` and calls `on_commit(revision)` for
each notification; after every (re)connect it calls `on_connect()`, since notifications sent while it was not
listening are lost (the caller catches up from the event log). A lost connection is retried with a capped backoff.
SQLite has no listener: one controller process per database file is the supported setup there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial

from sqlalchemy.engine import make_url

from hubnet.loop import Backoff

log = logging.getLogger("hubnet.db")
CHANNEL = "hubnet_events"


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL (`postgresql+psycopg://...`) as libpq takes it (query parameters kept)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def payload(revision: int, origin: str) -> str:
    """A notification's text: `<revision>:<origin>` (the committing process's `Database.origin`)."""
    return f"{revision}:{origin}" if origin else str(revision)


def payload_revision(text: str) -> int | None:
    """The revision a notification carries (None: unreadable, e.g. from a newer controller: read everything)."""
    try:
        return int(text.partition(":")[0])
    except ValueError:
        return None


def payload_origin(text: str) -> str:
    return text.partition(":")[2]


class CommitListener:
    """The LISTEN thread. `start()` returns at once; `stop()` ends it within about `poll` seconds."""

    def __init__(
        self,
        url: str,
        *,
        on_commit: Callable[[int | None], None],
        on_connect: Callable[[], None] | None = None,
        poll: float = 0.5,
        backoff: Backoff = Backoff(first=0.2, cap=5.0),
        origin: str = "",
    ) -> None:
        self.conninfo = libpq_url(url)
        self.origin = origin  # this process's commits: skipped (their hooks ran locally, after the commit)
        self.on_commit, self.on_connect, self.poll, self.backoff = on_commit, on_connect, poll, backoff
        self.connected = threading.Event()  # set while LISTEN is in effect (tests wait on it)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="hubnet-listen", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._session()
                failures = 0
            except Exception as exc:
                failures += 1
                log.warning("commit listener lost its connection (%s); reconnecting", exc)
            finally:
                self.connected.clear()
            if failures:
                self._stop.wait(self.backoff.delay(failures - 1))

    def _session(self) -> None:
        import psycopg

        with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self.connected.set()
            self._call(self.on_connect)
            while not self._stop.is_set():
                for note in conn.notifies(timeout=self.poll):
                    if self.origin and payload_origin(note.payload) == self.origin:
                        continue  # ours: a later notification of another process's commit reads past it anyway
                    self._call(partial(self.on_commit, payload_revision(note.payload)))
                    if self._stop.is_set():
                        break

    @staticmethod
    def _call(fn: Callable[[], None] | None) -> None:
        """A callback that fails is logged; it must not cost the connection (and the notifications after it)."""
        if fn is None:
            return
        try:
            fn()
        except Exception:
            log.exception("commit listener callback failed")
