"""Alembic: upgrade -> downgrade -> upgrade round-trips on both databases; `hubnet db upgrade` from any CWD."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, inspect, pool

from server.db import migrate
from tests.integration.conftest import fresh_db
from tests.integration.support import HUBNET, Databases

TABLES = {"pools", "nodes", "events", "revision_counter", "bootstrap_tokens", "alembic_version"}
HEAD = "0004"


def _tables(url: str) -> set[str]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_round_trip(databases: Databases, db_kind: str) -> None:
    url = fresh_db(databases, db_kind)
    migrate.upgrade(url)
    assert _tables(url) == TABLES and migrate.current(url) == HEAD
    for step in ("0003", "0002", "0001", "base"):
        migrate.downgrade(url, step)
        assert migrate.current(url) == (None if step == "base" else step)
    assert _tables(url) <= {"alembic_version"}
    migrate.upgrade(url)
    assert _tables(url) == TABLES and migrate.current(url) == HEAD
    migrate.upgrade(url)  # idempotent


def test_cli_upgrade_from_any_directory(databases: Databases, db_kind: str, tmp_path: Path) -> None:
    url = fresh_db(databases, db_kind)
    env = {**os.environ, "HUBNET_DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://")}
    done = subprocess.run([HUBNET, "db", "upgrade"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert HEAD in done.stdout
    assert migrate.current(url) == HEAD
