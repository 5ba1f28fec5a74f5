"""Group commit: the write use cases of one process go through one writer thread, which runs whatever queued up
meanwhile as one transaction (a savepoint per use case) with one commit.

Why: on PostgreSQL a commit waits for an fsync (~1.5 ms here) while the pool row stays locked, which would cap
registrations at a few hundred per second; on SQLite many threads queueing on the write lock convoy behind the
GIL. One writer draining a queue keeps every request's semantics (each use case sees the rows the earlier ones in
its batch wrote) and pays for the commit once per batch. Correctness across processes still rests on the
database: row locks, BEGIN IMMEDIATE and the schema's constraints.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from hubnet.server.services.ports import Database, UnitOfWork

T = TypeVar("T")
Job = tuple[Callable[[UnitOfWork], Any], "Future[Any]"]


class WriteBatcher:
    """`run(fn)` blocks until `fn` committed (its result) or failed (its exception); `submit(fn)` does not."""

    def __init__(self, db: Database, *, max_batch: int = 64) -> None:
        self.db, self.max_batch = db, max_batch
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, fn: Callable[[UnitOfWork], T]) -> Future[T]:
        """Queue `fn`; the future resolves after its batch committed (async callers await it, no thread hop)."""
        future: Future[T] = Future()
        self._ensure_started()
        self._queue.put((fn, future))
        return future

    def run(self, fn: Callable[[UnitOfWork], T]) -> T:
        return self.submit(fn).result()

    def stop(self) -> None:
        with self._start_lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join(timeout=10)
                self._thread = None

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="hubnet-writer", daemon=True)
                    self._thread.start()

    def _loop(self) -> None:
        while (first := self._queue.get()) is not None:
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(item)
            self._execute(batch)

    def _execute(self, batch: list[Job]) -> None:
        try:
            outcomes = self.db.write_batch([fn for fn, _ in batch])
        except BaseException as error:  # the transaction failed as a whole: every caller sees it (and may retry)
            for _, future in batch:
                future.set_exception(error)
            return
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
