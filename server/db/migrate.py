"""Bring a database to a schema revision with Alembic, locating the migrations in the installed package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config


def _config(url: str) -> Config:
    import migrations

    config = Config()
    # __path__, not __file__: an editable install may expose the package as a namespace package.
    config.set_main_option("script_location", str(Path(next(iter(migrations.__path__)))))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Idempotent: a database already at `revision` is left alone."""
    command.upgrade(_config(url), revision)


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
