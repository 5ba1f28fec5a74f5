"""Engines for SQLite and PostgreSQL (psycopg 3) with the settings each needs to be correct and fast.

SQLite: WAL, a busy timeout, and a *writer* engine whose transactions start with BEGIN IMMEDIATE, so two
controller processes on one file serialize their allocations instead of failing on upgrade-to-write.
PostgreSQL: READ COMMITTED; allocations serialize on the pool row (`SELECT ... FOR UPDATE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


@dataclass(frozen=True)
class Engines:
    """`reader` for read-only use cases, `writer` for the rest (the same engine on PostgreSQL)."""

    reader: Engine
    writer: Engine
    dialect: str

    def dispose(self) -> None:
        self.reader.dispose()
        if self.writer is not self.reader:
            self.writer.dispose()


def make_engines(url: str) -> Engines:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return Engines(_sqlite(url, immediate=False), _sqlite(url, immediate=True), "sqlite")
    engine = _postgres(url)
    return Engines(engine, engine, "postgresql")


def _postgres(url: str) -> Engine:
    engine = create_engine(url, pool_size=16, max_overflow=16, pool_recycle=1800, pool_timeout=30)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # `inet` / `cidr` values as their text: psycopg would build an ipaddress object per value, which the Inet
        # column type turns straight back into text (4 per node row: most of the CPU of reading 65,536 rows).
        from psycopg.types.string import TextLoader

        for name in ("inet", "cidr"):
            dbapi_conn.adapters.register_loader(name, TextLoader)

    return engine


def _sqlite(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, pool_size=16, max_overflow=16, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (pysqlite's own handling is broken)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL, not NORMAL: in WAL, NORMAL skips the fsync at commit, so a power loss can drop allocations the
        # controller already answered 201 for (and a node would then use a subnet the database re-issues).
        # Group commit (hubnet.server.db.batch) pays the fsync once per batch.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        # A write that fires triggers keeps a statement journal (to undo just that statement if a trigger aborts
        # it): in a temporary file by default, created and removed per statement (~100 us of a node INSERT).
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
