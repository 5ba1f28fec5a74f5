"""The one place statements run inside a unit of work, and the one place writes are counted.

Why count: the batch runner (hubnet.server.db.uow) runs the use cases of a batch without savepoints; when one fails, it
must know whether that use case already wrote something (then the batch is rolled back and redone with a savepoint
per use case) or not (nothing to undo). A write counts unless the database says it changed no row: rowcount 0 on
a statement without RETURNING (SQLite reports 0 for RETURNING statements until their rows are read, so those
always count; an unknown rowcount, -1, counts too).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, CursorResult, Executable
from sqlalchemy.util.typing import TupleAny, Unpack

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


class Statements:
    """Runs statements on one connection (never commits) and counts the writes that may have changed rows."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.writes = 0
        # Runs before every statement (the repository's batch cache: flush deferred writes, forget stale answers).
        self.before: Callable[[Executable], None] | None = None

    def execute(self, statement: Executable, params: Params = None) -> CursorResult[Unpack[TupleAny]]:
        if self.before is not None:
            self.before(statement)
        result = self.conn.execute(statement, params)
        if statement.is_dml and (result.returns_rows or result.rowcount != 0):
            self.writes += 1
        return result
