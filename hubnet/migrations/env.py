"""Alembic environment: the URL comes from the caller (`hubnet.server.db.migrate`) or from HUBNET_ settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from hubnet.server.db.models import metadata

# An arbitrary constant: concurrent `hubnet server` start-ups on one PostgreSQL migrate one at a time.
MIGRATION_LOCK = 0x6875626E


def _url() -> str:
    url = context.config.attributes.get("url")
    if url:
        return str(url)
    from hubnet.server.settings import Settings

    return Settings().db_url


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=conn.dialect.name == "sqlite")
        with context.begin_transaction():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
