"""Alembic: upgrade -> downgrade -> upgrade round-trips on both databases; `hubnet db upgrade` from any CWD."""

from __future__ import annotations

import os
import subprocess
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, pool
from sqlalchemy.exc import IntegrityError

from hubnet.server.db import migrate
from hubnet.server.db.repository import Repository
from tests.integration.conftest import fresh_db
from tests.integration.support import HUBNET, Databases, sql

TABLES = {
    "pools",
    "nodes",
    "events",
    "revision_counter",
    "bootstrap_tokens",
    "controller_clock",
    "bgp_peers",
    "routers",
    "router_routes",
    "node_state_counts",
    "alembic_version",
}
HEAD = "0013_overlap_guard_checks"
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
    steps = (
        "0012_pool_counts",
        "0011c_route_withdrawal",
        "0011b_overlap_guard",
        "0011",
        "0010",
        "0009",
        "0008",
        "0007",
        "0006",
        "0005",
        "0004",
        "0003",
        "0002",
    )
    for step in (*steps, "0001", "base"):
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


NODE_INDEXES = {
    "ix_nodes_secret_hash",
    "ix_nodes_state_expires_at",
    "ix_nodes_pool_id_reuse",
    "ix_nodes_subnet",
    "uq_nodes_address_live",
    "uq_nodes_subnet_live",
    "ix_nodes_net_lo_live",
}
V6_INDEXES = {
    "ix_nodes_pool6_id_reuse",
    "ix_nodes_subnet6",
    "uq_nodes_address6_live",
    "uq_nodes_subnet6_live",
    "ix_nodes_net6_lo_live",
}
PARTIAL = {"uq_nodes_address_live", "uq_nodes_subnet_live", "ix_nodes_net_lo_live"}


def _indexes(url: str) -> dict[str, bool]:
    """Index name -> whether it is partial (WHERE state <> 'released'), as the database itself reports it."""
    if url.startswith("postgresql"):
        rows = sql(url, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'nodes'")
    else:
        rows = sql(url, "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'nodes'")
    return {
        name: "'released'" in (ddl or "")
        for name, ddl in rows
        if name.startswith(("ix_", "uq_")) and name != "uq_nodes_name"
    }


def _nodes(url: str) -> list[tuple[object, ...]]:
    return sql(url, "SELECT name, address, subnet, pool_id, state, released_at, reissued FROM nodes ORDER BY name")


def test_0009_up_and_down_keep_every_ipv4_subnet_and_index(databases: Databases, db_kind: str) -> None:
    url = fresh_db(databases, db_kind)
    migrate.upgrade(url, "0008")
    sql(url, "INSERT INTO pools (cidr, node_prefix, high_water, created_at) VALUES ('10.244.0.0/16', 24, 3, 0)")
    for i in range(3):
        sql(url, INSERT_NODE, {"name": f"v4-{i}", "subnet": f"10.244.{i}.0/24", "address": f"172.31.0.{i + 1}"})
    sql(url, "UPDATE nodes SET state = 'released', released_at = 5, reissued = true WHERE name = 'v4-2'")
    before, indexes = _nodes(url), _indexes(url)
    assert set(indexes) == NODE_INDEXES and {n for n, partial in indexes.items() if partial} == PARTIAL

    migrate.upgrade(url)
    assert _nodes(url) == before
    after = _indexes(url)
    # 0011c's (not about 'released') and 0012's
    assert set(after) == NODE_INDEXES | V6_INDEXES | {"ix_nodes_withdrawing", "ix_nodes_unvetted"}
    assert {n for n, partial in after.items() if partial} == PARTIAL | {"ix_nodes_unvetted"} | V6_INDEXES - {
        "ix_nodes_pool6_id_reuse",
        "ix_nodes_subnet6",
    }
    rows = sql(url, "SELECT subnet6, address6, pool6_id, reissued6, net6_lo FROM nodes")
    assert rows == [(None, None, None, False, None)] * 3
    base = int(IPv4Address("10.244.0.0"))  # the ranges of rows written without them are filled in
    ranges = sql(url, "SELECT net_lo, net_hi FROM nodes ORDER BY name")
    assert ranges == [(base + i * 256, base + i * 256 + 255) for i in range(3)]
    # the IPv4 invariants still hold in the rebuilt table: a second live holder of a subnet or address is refused
    with pytest.raises(IntegrityError):
        sql(url, INSERT_NODE, {"name": "dup", "subnet": "10.244.0.0/24", "address": "172.31.9.9"})
    with pytest.raises(IntegrityError):
        sql(url, INSERT_NODE, {"name": "dup", "subnet": "10.244.9.0/24", "address": "172.31.0.1"})

    migrate.downgrade(url, "0008")
    assert _nodes(url) == before and _indexes(url) == indexes
    migrate.upgrade(url)
    assert _nodes(url) == before


def test_0009_downgrade_refuses_while_a_row_holds_ipv6(databases: Databases, db_kind: str) -> None:
    url = fresh_db(databases, db_kind)
    migrate.upgrade(url, "0009")  # the refusal of 0009 itself (SQLite's DDL is not transactional across steps)
    sql(url, "INSERT INTO pools (cidr, node_prefix, high_water, created_at) VALUES ('fd00:10:244::/56', 64, 1, 0)")
    sql(
        url,
        "INSERT INTO nodes (name, address6, subnet6, pool6_id, state, generation, secret_hash, expires_at, "
        "route_state, created_at, updated_at) VALUES ('six', 'fd00:1::1', 'fd00:10:244::/64', 1, 'active', 1, 'h', "
        "0, 'pending', 0, 0)",
    )
    with pytest.raises(RuntimeError, match="IPv6"):
        migrate.downgrade(url, "0008")
    assert migrate.current(url) == "0009"
    assert [(n, str(s)) for n, s in sql(url, "SELECT name, subnet6 FROM nodes")] == [("six", "fd00:10:244::/64")]


def test_backfill_fills_the_ipv6_range_of_rows_written_without_it(databases: Databases, db_kind: str) -> None:
    """A row written by hand (or by an older controller) gets net6_lo/net6_hi at the next start (`pools.scan`); on
    SQLite the overlap guard (0011b) already set them when the row was written."""
    url = fresh_db(databases, db_kind)
    migrate.upgrade(url)
    sql(url, "INSERT INTO pools (cidr, node_prefix, high_water, created_at) VALUES ('fd00:10:244::/56', 64, 1, 0)")
    sql(
        url,
        "INSERT INTO nodes (name, address6, subnet6, pool6_id, state, generation, secret_hash, expires_at, "
        "route_state, created_at, updated_at) VALUES ('six', 'fd00:1::1', 'fd00:10:244:a::/64', 1, 'active', 1, "
        "'h', 0, 'pending', 0, 0)",
    )
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            filled = Repository(conn, engine.dialect.name).backfill_ranges()
        assert filled == (0 if db_kind == "sqlite" else 1)
    finally:
        engine.dispose()
    lo = int(IPv6Address("fd00:10:244:a::"))
    assert sql(url, "SELECT net6_lo, net6_hi, net_lo FROM nodes") == [(f"{lo:032x}", f"{lo + 2**64 - 1:032x}", None)]


INSERT_PEER = (
    "INSERT INTO bgp_peers (address, asn, password, multihop, description, created_at) "
    "VALUES (:address, :asn, NULL, :multihop, '', 0)"
)


def test_0010_adds_bgp_peers_and_drops_them_again(databases: Databases, db_kind: str) -> None:
    url = fresh_db(databases, db_kind)
    migrate.upgrade(url, "0009")
    sql(url, "INSERT INTO pools (cidr, node_prefix, high_water, created_at) VALUES ('10.244.0.0/16', 24, 1, 0)")
    sql(url, INSERT_NODE, {"name": "kept", "subnet": "10.244.0.0/24", "address": "172.31.0.1"})
    before = _nodes(url)
    assert "bgp_peers" not in _tables(url)

    migrate.upgrade(url)
    sql(url, INSERT_PEER, {"address": "fd00::1", "asn": 4294967295, "multihop": None})
    sql(url, INSERT_PEER, {"address": "192.168.1.1", "asn": 65001, "multihop": 255})
    refused = [
        {"address": "fd00::1", "asn": 65001, "multihop": None},  # the unique address: race-safe between processes
        {"address": "192.168.1.2", "asn": 0, "multihop": None},
        {"address": "192.168.1.2", "asn": 4294967296, "multihop": None},
        {"address": "192.168.1.2", "asn": 65001, "multihop": 256},
    ]
    for values in refused:
        with pytest.raises(IntegrityError):
            sql(url, INSERT_PEER, values)
    rows = sql(url, "SELECT address, asn, multihop, description FROM bgp_peers ORDER BY id")
    assert rows == [("fd00::1", 4294967295, None, ""), ("192.168.1.1", 65001, 255, "")]

    migrate.downgrade(url, "0009")
    assert "bgp_peers" not in _tables(url) and _nodes(url) == before
    migrate.upgrade(url)
    assert sql(url, "SELECT count(*) FROM bgp_peers") == [(0,)] and _nodes(url) == before


INSERT_ROUTER = "INSERT INTO routers (name, secret_hash, created_at, status) VALUES (:name, 'h', 0, :status)"
INSERT_STATE = (
    "INSERT INTO router_routes (router_id, node_id, generation, state, updated_at) "
    "SELECT r.id, n.id, 1, 'programmed', 0 FROM routers r, nodes n WHERE r.name = :router AND n.name = :node"
)


def _with_foreign_keys(url: str, *statements: str) -> None:
    """Statements on one connection with foreign keys enforced (SQLite enforces them per connection, as the
    controller's engine asks it to)."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            if url.startswith("sqlite"):
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def test_0011_adds_routers_and_drops_them_again(databases: Databases, db_kind: str) -> None:
    url = fresh_db(databases, db_kind)
    migrate.upgrade(url, "0010")
    sql(url, "INSERT INTO pools (cidr, node_prefix, high_water, created_at) VALUES ('10.244.0.0/16', 24, 2, 0)")
    for i, name in enumerate(("kept", "gone")):
        sql(url, INSERT_NODE, {"name": name, "subnet": f"10.244.{i}.0/24", "address": f"172.31.0.{i + 1}"})
    before = _nodes(url)
    assert not {"routers", "router_routes"} & _tables(url)

    migrate.upgrade(url)
    sql(url, INSERT_ROUTER, {"name": "r1", "status": "up"})
    sql(url, "INSERT INTO routers (name, secret_hash, created_at) VALUES ('r2', 'h', 0)")
    assert sql(url, 'SELECT name, status, route_count, missing, unexpected, "foreign" FROM routers ORDER BY name') == [
        ("r1", "up", 0, 0, 0, 0),
        ("r2", "syncing", 0, 0, 0, 0),
    ]
    for values in ({"name": "r1", "status": "up"}, {"name": "r3", "status": "sideways"}):
        with pytest.raises(IntegrityError):  # one router per name; a status the contract does not know
            sql(url, INSERT_ROUTER, values)
    for router in ("r1", "r2"):
        for node in ("kept", "gone"):
            sql(url, INSERT_STATE, {"router": router, "node": node})
    with pytest.raises(IntegrityError):  # one state per router and node
        sql(url, INSERT_STATE, {"router": "r1", "node": "kept"})
    # the states go with their router and with their node
    _with_foreign_keys(url, "DELETE FROM routers WHERE name = 'r2'", "DELETE FROM nodes WHERE name = 'gone'")
    assert sql(url, "SELECT router_id, node_id FROM router_routes") == [
        tuple(sql(url, "SELECT r.id, n.id FROM routers r, nodes n WHERE r.name = 'r1' AND n.name = 'kept'")[0])
    ]

    migrate.downgrade(url, "0010")
    assert not {"routers", "router_routes"} & _tables(url)
    assert _nodes(url) == [row for row in before if row[0] == "kept"]
    migrate.upgrade(url)
    assert sql(url, "SELECT count(*) FROM routers") == [(0,)] and sql(url, "SELECT count(*) FROM router_routes") == [
        (0,)
    ]


def test_0011b_guards_sqlite_against_overlaps_and_sets_ranges(databases: Databases, db_kind: str) -> None:
    """The triggers come with the upgrade (ranges recomputed from the text of existing rows, a stored overlap kept)
    and go with the downgrade; PostgreSQL has its exclusion constraints either way."""
    url = fresh_db(databases, db_kind)
    migrate.upgrade(url, "0010")
    sql(url, "INSERT INTO pools (cidr, node_prefix, high_water, created_at) VALUES ('10.244.0.0/16', 24, 1, 0)")
    sql(url, INSERT_NODE, {"name": "one", "subnet": "10.244.1.0/24", "address": "172.31.0.1"})
    if db_kind == "sqlite":
        sql(url, "UPDATE nodes SET net_lo = 0, net_hi = 0")  # a range that lies
        sql(url, INSERT_NODE, {"name": "legacy", "subnet": "10.244.0.0/23", "address": "172.31.0.2"})
    migrate.upgrade(url)
    if db_kind == "sqlite":  # PostgreSQL compares inet values; the controller fills its ranges at start
        base = int(IPv4Address("10.244.0.0"))
        assert sql(url, "SELECT net_lo, net_hi FROM nodes WHERE name = 'one'") == [(base + 256, base + 511)]
    with pytest.raises(IntegrityError):
        sql(url, INSERT_NODE, {"name": "wide", "subnet": "10.244.0.0/22", "address": "172.31.0.3"})
    migrate.downgrade(url, "0010")
    if db_kind == "sqlite":
        sql(url, INSERT_NODE, {"name": "wide", "subnet": "10.244.0.0/22", "address": "172.31.0.3"})
        assert sql(url, "SELECT count(*) FROM nodes") == [(3,)]


def test_0013_checks_supplied_ranges_and_downgrades_to_0011b_triggers(databases: Databases, db_kind: str) -> None:
    """0013 replaces 0011b's triggers (SQLite) with ones that take a canonical supplied range as written and
    recompute anything else; the downgrade puts 0011b's back, word for word."""
    from hubnet.server.db.overlap_guard import TRIGGERS, create_statements

    url = fresh_db(databases, db_kind)
    migrate.upgrade(url, "0012_pool_counts")
    names = {f"t{i}": name for i, name in enumerate(TRIGGERS)}
    listed = f"SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({', '.join(':' + k for k in names)})"

    def triggers() -> list[str]:
        return sorted(row[0] for row in sql(url, listed, names)) if db_kind == "sqlite" else []

    old = triggers()
    migrate.upgrade(url)
    if db_kind == "sqlite":
        assert old == sorted(create_statements(fast=False)) and triggers() == sorted(create_statements())
    sql(url, "INSERT INTO pools (cidr, node_prefix, high_water, created_at) VALUES ('10.244.0.0/16', 24, 1, 0)")
    insert = INSERT_NODE.replace("route_state,", "route_state, net_lo, net_hi,").replace(
        "'pending',", "'pending', :lo, :hi,"
    )
    base = int(IPv4Address("10.244.0.0"))
    sql(url, insert, {"name": "one", "subnet": "10.244.1.0/24", "address": "172.31.0.1", "lo": 256, "hi": 511})
    with pytest.raises(IntegrityError):  # ranges that would hide it from the probe: recomputed, then refused
        sql(url, insert, {"name": "two", "subnet": "10.244.0.0/23", "address": "172.31.0.2", "lo": 0, "hi": 0})
    sql(
        url,
        insert,
        {"name": "three", "subnet": "10.244.2.0/24", "address": "172.31.0.3", "lo": base + 512, "hi": base + 767},
    )
    if db_kind == "sqlite":
        found = sql(url, "SELECT name, net_lo, net_hi FROM nodes ORDER BY name")
        assert found == [("one", base + 256, base + 511), ("three", base + 512, base + 767)]
    migrate.downgrade(url, "0012_pool_counts")
    assert triggers() == old
