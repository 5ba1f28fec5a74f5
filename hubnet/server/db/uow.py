"""The unit of work: each use case sees one repository and records its events; DB errors are translated once.

Write use cases run through `Database.write_batch()`: one transaction (and commit) for a batch of them, each
undoable alone (hubnet.server.db.batch decides what goes in a batch). Helpers and repositories never commit. On SQLite a
process-wide lock also sits in front of BEGIN IMMEDIATE, so writers queue cheaply instead of spinning in SQLite's
busy handler.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import exc

from hubnet.server.db.engine import Engines, make_engines
from hubnet.server.db.repository import Repository
from hubnet.server.domain.errors import ConcurrentChange, HubnetError, Unavailable
from hubnet.server.domain.records import NodeRecord
from hubnet.server.services import ports

log = logging.getLogger("hubnet.db")


class UnitOfWork:
    """`hubnet.server.services.ports.UnitOfWork`: a repository over one transaction plus the events to append when it
    commits."""

    def __init__(self, repo: Repository, now: float) -> None:
        self.repo = repo
        self.now = now
        self.events: list[tuple[str, str | None, str]] = []
        self.revision: int | None = None
        self.committed: list[Callable[[], None]] = []
        self.said: list[NodeRecord] = []

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` once this use case's batch committed (metrics: a batch redone with savepoints runs the job
        twice, and a job undone alone must not count at all)."""
        self.committed.append(fn)

    def emit(self, kind: str, node: str | None, **data: Any) -> None:
        """Record one event; it is appended in this same transaction, after every row change."""
        self.events.append((kind, node, json.dumps(data, sort_keys=True, default=str)))

    def moved(self, record: NodeRecord) -> None:
        self.said.append(record)


class Database:
    """`hubnet.server.services.ports.Database` over SQLAlchemy engines. `after_commit` hooks run after every commit that
    appended events (watchers, route reconcile)."""

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time) -> None:
        self.engines: Engines = make_engines(url)
        self.dialect = self.engines.dialect
        self.clock = clock
        # Names this process's commits in their NOTIFY, so its own listener skips them (the local after-commit hooks
        # already ran: an echo would reconcile every change twice).
        self.origin = secrets.token_hex(8)
        self.after_commit: list[Callable[[ports.Commit], None]] = []
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None

    @contextmanager
    def read(self) -> Iterator[ports.UnitOfWork]:
        with _translated(), self.engines.reader.connect() as conn:
            yield UnitOfWork(Repository(conn, self.dialect), self.clock())
            conn.rollback()

    def write_batch(self, jobs: list[Callable[[ports.UnitOfWork], Any]]) -> list[tuple[bool, Any]]:
        """Run several write use cases in ONE transaction with one commit (one fsync); their events get
        consecutive revisions. Each job's outcome is (True, result) or (False, domain error).

        Fast path: the jobs run back to back. A job that fails before writing anything needs no undo. If one fails
        after writing, or the database refuses a statement, the transaction is rolled back and the batch runs again
        with a savepoint per job, so a failing job is undone alone. An error of the transaction itself (lost
        connection, deadlock) raises for the whole batch. An unexpected exception (a bug) fails only its own job: it is
        logged and returned as that job's outcome."""
        try:
            return self._batch(jobs, savepoints=False)
        except _Redo:
            return self._batch(jobs, savepoints=True)

    def _batch(self, jobs: list[Callable[[ports.UnitOfWork], Any]], *, savepoints: bool) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        emitted: list[tuple[str, str | None, str]] = []
        revision: int | None = None
        lock = self._write_lock or nullcontext()
        committed: list[Callable[[], None]] = []
        moved = ports.MovedRows()
        with lock, _translated(), self.engines.writer.connect() as conn, conn.begin():
            repo = Repository(conn, self.dialect)
            if repo.pg:
                # One lock order for every batch of every process: pool rows, then node rows, then the revision
                # counter. Without it, batch A (heartbeat of X, then a registration) and batch B (a registration,
                # then heartbeat of X) in two processes would deadlock.
                repo.pools(lock=True)
            if not savepoints:  # the batch's questions set-wise (a redo with savepoints asks one by one)
                repo.start_batch([getattr(job, "hints", None) for job in jobs])
            # The clock after the lock: a batch that waited for another process's batch must not stamp its rows
            # (expires_at, updated_at, released_at) with a time from before that batch committed.
            now = self.clock()
            for job in jobs:
                uow = UnitOfWork(repo, now)
                writes = repo.writes
                try:
                    if savepoints:
                        with _translated(), conn.begin_nested():
                            value = job(uow)
                    else:
                        value = _fast(job, uow)
                except _Redo:
                    raise
                except Exception as error:
                    if not savepoints and repo.writes != writes:
                        raise _Redo() from error
                    if not isinstance(error, HubnetError):
                        log.error("write use case failed; only its own request fails", exc_info=error)
                    repo.forget()
                    outcomes.append((False, error))
                    continue
                emitted.extend(uow.events)
                committed.extend(uow.committed)
                moved.add(job, uow.said)
                outcomes.append((True, value))
            try:
                repo.flush()
            except exc.DBAPIError as error:  # a deferred row refused: find out whose, one savepoint per job
                if savepoints:
                    raise
                raise _Redo() from error
            if emitted:
                revision = repo.append_events(emitted, now=now)
                repo.notify_commit(revision, self.origin)  # other controller processes wake as this commits
        ports.after_batch(committed, self.after_commit, emitted, revision, moved)
        return outcomes

    def dispose(self) -> None:
        self.engines.dispose()


class _Redo(Exception):
    """The fast path of a batch cannot undo one job alone: roll back, run again with savepoints."""


def _fast(job: Callable[[ports.UnitOfWork], Any], uow: UnitOfWork) -> Any:
    """Run a job without a savepoint; any database error aborts the transaction, so the batch is redone."""
    try:
        return job(uow)
    except exc.DBAPIError as error:
        raise _Redo() from error


@contextmanager
def _translated() -> Iterator[None]:
    """Integrity races become ConcurrentChange (retried by the service); lost connections become Unavailable."""
    try:
        yield
    except exc.IntegrityError as error:
        raise ConcurrentChange(f"concurrent change: {error.orig}") from error
    except (exc.OperationalError, exc.InterfaceError) as error:
        if "locked" in str(error.orig) or "deadlock" in str(error.orig).lower():
            raise ConcurrentChange(f"database busy: {error.orig}") from error
        raise Unavailable(f"database unavailable: {error.orig}") from error
    except exc.DBAPIError as error:
        if error.connection_invalidated:
            raise Unavailable(f"database connection lost: {error.orig}") from error
        raise
