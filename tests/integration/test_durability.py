"""SQLite durability: an allocation the controller acknowledged survives a power loss (fsync at every commit)."""

from __future__ import annotations

from hubnet.server.db.engine import make_engines
from hubnet.server.db.migrate import upgrade
from tests.integration.support import Databases


def test_sqlite_commits_are_synced_full_in_wal(databases: Databases) -> None:
    """WAL + synchronous=NORMAL skips the fsync at commit: a power cut can lose acknowledged registrations."""
    url = databases.new("sqlite")
    upgrade(url)
    engines = make_engines(url)
    try:
        for engine in (engines.reader, engines.writer):
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2  # 2 = FULL, 1 = NORMAL
                conn.rollback()
    finally:
        engines.dispose()
