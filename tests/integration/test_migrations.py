"""Alembic: upgrade -> downgrade -> upgrade round-trips on both databases; `hubnet db upgrade` from any CWD."""

from __future__ import annotations

import os
import subprocess
from ipaddress import IPv4Address
from pathlib import Path

from sqlalchemy import create_engine, inspect, pool

from hubnet.server.db import migrate
from tests.integration.conftest import fresh_db
from tests.integration.support import HUBNET, Databases, sql

TABLES = {"pools", "nodes", "events", "revision_counter", "bootstrap_tokens", "controller_clock", "alembic_version"}
HEAD = "0008"
INSERT_NODE = (
    "INSERT INTO nodes (name, address, subnet, pool_id, state, generation, secret_hash, expires_at, reissued, "
    "route_state, created_at, updated_at) VALUES (:name, :address, :subnet, 1, 'active', 1, 'h', 0, false, "
    "'pending', 0, 0)"
)


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
    for step in ("0007", "0006", "0005", "0004", "0003", "0002", "0001", "base"):
        migrate.downgrade(url, step)
        assert migrate.current(url) == (None if step == "base" else step)
    assert _tables(url) <= {"alembic_version"}
    migrate.upgrade(url)
    assert _tables(url) == TABLES and migrate.current(url) == HEAD
    migrate.upgrade(url)  # idempotent


def test_0005_fills_in_the_range_of_existing_rows(databases: Databases, db_kind: str) -> None:
    url = fresh_db(databases, db_kind)
    migrate.upgrade(url, "0004")
    sql(url, "INSERT INTO pools (cidr, node_prefix, high_water, created_at) VALUES ('10.244.0.0/16', 24, 0, 0)")
    for name, subnet in (("legacy", "10.244.0.0/23"), ("one", "10.244.7.0/24")):
        sql(url, INSERT_NODE, {"name": name, "subnet": subnet, "address": f"172.31.0.{len(name)}"})
    migrate.upgrade(url)
    rows = sql(url, "SELECT name, net_lo, net_hi FROM nodes ORDER BY name")
    base = int(IPv4Address("10.244.0.0"))
    assert rows == [("legacy", base, base + 511), ("one", base + 7 * 256, base + 8 * 256 - 1)]


def test_0008_says_withdrawn_for_released_records(databases: Databases, db_kind: str) -> None:
    """Issue 18 item 9: a released record used to keep `route_state = programmed`."""
    url = fresh_db(databases, db_kind)
    migrate.upgrade(url, "0007")
    sql(url, "INSERT INTO pools (cidr, node_prefix, high_water, created_at) VALUES ('10.244.0.0/16', 24, 0, 0)")
    for i, name in enumerate(("live", "gone")):
        sql(url, INSERT_NODE, {"name": name, "subnet": f"10.244.{i}.0/24", "address": f"172.31.0.{i + 1}"})
    sql(url, "UPDATE nodes SET route_state = 'programmed'")
    sql(url, "UPDATE nodes SET state = 'released', released_at = 1 WHERE name = 'gone'")
    migrate.upgrade(url)
    rows = sql(url, "SELECT name, state, route_state FROM nodes ORDER BY name")
    assert rows == [("gone", "released", "withdrawn"), ("live", "active", "programmed")]


def test_cli_upgrade_from_any_directory(databases: Databases, db_kind: str, tmp_path: Path) -> None:
    url = fresh_db(databases, db_kind)
    env = {**os.environ, "HUBNET_DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://")}
    done = subprocess.run([HUBNET, "db", "upgrade"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert HEAD in done.stdout
    assert migrate.current(url) == HEAD
