"""A row outside every pool, an unparsable row and a legacy /23 inside the pool: the controller starts, serves,
flags them, and never hands out a subnet overlapping a live row (SQLite included: integer range check)."""

from __future__ import annotations

import time
from ipaddress import IPv4Network
from pathlib import Path

from tests.integration.conftest import fresh_db
from tests.integration.support import Databases, Server, new_secret, node_body, sql

INSERT = (
    "INSERT INTO nodes (name, address, subnet, pool_id, state, generation, secret_hash, expires_at, reissued, "
    "route_state, created_at, updated_at) VALUES (:name, :address, :subnet, NULL, 'active', 1, :h, :exp, false, "
    "'pending', :now, :now)"
)


def test_bad_rows_are_flagged_and_served(databases: Databases, db_kind: str, tmp_path: Path) -> None:
    server = Server(fresh_db(databases, db_kind), tmp_path)
    server.start()  # creates the schema
    server.stop()
    # PostgreSQL's inet column cannot hold garbage; a host address with a prefix is as unusable as a subnet.
    unparsable = "garbage" if db_kind == "sqlite" else "10.244.8.7/24"
    legacy = "10.244.0.0/23"  # live, written by an older tool: overlaps the first two /24s of the pool
    now = time.time()
    rows = (
        ("outside", "172.31.0.1", "10.99.0.0/24"),
        ("broken", "172.31.0.2", unparsable),
        ("legacy", "172.31.0.3", legacy),
    )
    for name, address, subnet in rows:
        params = {"name": name, "address": address, "subnet": subnet, "h": "0" * 64, "exp": now + 3600, "now": now}
        sql(server.db_url, INSERT, params)

    server.start()
    try:
        with server.client(server.admin) as admin, server.client(server.bootstrap) as boot:
            flagged = {f["name"]: f["flags"] for f in admin.get("/v1/pools").json()["flagged"]}
            assert flagged == {
                "outside": ["subnet-outside-pools"],
                "broken": ["subnet-unparsable"],
                "legacy": ["subnet-outside-pools"],
            }
            assert admin.get("/v1/nodes/outside").json()["flags"] == ["subnet-outside-pools"]
            broken = admin.get("/v1/nodes/broken").json()
            assert broken["flags"] == ["subnet-unparsable"] and broken["gateway"] is None
            # ... and it keeps allocating, around the bad rows, never overlapping a live one
            given = []
            for i in range(3):
                fresh = boot.post("/v1/nodes", json=node_body(i + 1, prefix="ok", secret=new_secret()))
                assert fresh.status_code == 201, fresh.text
                given.append(IPv4Network(fresh.json()["subnet"]))
            live = [IPv4Network(legacy), IPv4Network("10.99.0.0/24"), *given]
            overlapping = [(a, b) for i, a in enumerate(live) for b in live[i + 1 :] if a.overlaps(b)]
            assert overlapping == [], f"handed out {given} next to the live {legacy}"
            assert admin.get("/readyz").status_code == 200
        log = server.log_tail()
        assert "'outside'" in log and "'broken'" in log and "'legacy'" in log and "flagged" in log
    finally:
        server.stop()
