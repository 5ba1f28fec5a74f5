"""Bring a database to a schema revision with Alembic, locating the migrations in the installed package."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config


def _config(url: str) -> Config:
    import hubnet.migrations

    config = Config()
    # __path__, not __file__: an editable install may expose the package as a namespace package.
    config.set_main_option("script_location", str(Path(next(iter(hubnet.migrations.__path__)))))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Idempotent: a database already at `revision` is left alone. Concurrent callers migrate one at a time
    (PostgreSQL: an advisory lock in hubnet/migrations/env.py; a SQLite file: a lock file beside it)."""
    with _file_lock(url):
        command.upgrade(_config(url), revision)


@contextmanager
def _file_lock(url: str) -> Iterator[None]:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        yield
        return
    lock_path = Path(parsed.database).with_name(Path(parsed.database).name + ".migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(_config(url), revision)


def current(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine, pool
    from sqlalchemy.engine import Connection

    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        conn: Connection
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
