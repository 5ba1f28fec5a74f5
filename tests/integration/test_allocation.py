"""Allocation through the real server: exhaustion, one node racing itself, many nodes over two processes."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import fresh_db
from tests.integration.support import Databases, Server, new_secret, node_body, running, sql

OVERLAPS = (
    "SELECT count(*) FROM nodes a JOIN nodes b ON a.id < b.id AND {cond} "
    "WHERE a.state <> 'released' AND b.state <> 'released'"
)


def overlapping_pairs(db_url: str) -> int:
    """Counted by the database itself: `&&` on PostgreSQL; on SQLite (text columns) equal subnets in Python."""
    if db_url.startswith("postgresql"):
        return int(sql(db_url, OVERLAPS.format(cond="a.subnet && b.subnet"))[0][0])
    subnets = [IPv4Network(s) for (s,) in sql(db_url, "SELECT subnet FROM nodes WHERE state <> 'released'")]
    ordered = sorted(subnets, key=lambda n: (int(n.network_address), n.prefixlen))
    return sum(1 for a, b in itertools.pairwise(ordered) if a.overlaps(b))


def test_exhaustion_is_a_typed_409_and_one_delete_makes_room_for_one(
    databases: Databases, db_kind: str, tmp_path: Path
) -> None:
    """/16 -> /24 with a /22 of services excluded: exactly 256 - 4 registrations fit. Readiness, `/v1/pools` and
    the metrics warn once the free subnets fall below HUBNET_POOL_WARN_FREE (issue 18 item 8)."""
    env = {"HUBNET_SERVICE_CIDR": "10.244.252.0/22", "HUBNET_POOL_WARN_FREE": "2%"}
    excluded = [IPv4Network("10.244.252.0/22")]
    server = Server(fresh_db(databases, db_kind), tmp_path, extra_env=env)
    with running(server), server.client(server.bootstrap) as boot:
        bodies = [node_body(i, prefix="ex") for i in range(256 - 4)]
        assert boot.get("/readyz").json()["status"] == "ready"
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda b: boot.post("/v1/nodes", json=b), bodies[:247]))
        # 5 of 252 free = 1.98 % < 2 %: still ready (200) but degraded, and said why
        ready = boot.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["warnings"] == ["pool 10.244.0.0/16: 5 of 252 subnets free (warning below 2%)"]
        with ThreadPoolExecutor(8) as pool:
            answers += list(pool.map(lambda b: boot.post("/v1/nodes", json=b), bodies[247:]))
        assert Counter(a.status_code for a in answers) == {201: 252}
        subnets = {IPv4Network(a.json()["subnet"]) for a in answers}
        assert len(subnets) == 252
        assert not [s for s in subnets if any(s.overlaps(x) for x in excluded)]
        assert all(s.subnet_of(IPv4Network("10.244.0.0/16")) for s in subnets)

        refused = boot.post("/v1/nodes", json=node_body(999, prefix="ex"))
        assert refused.status_code == 409
        assert refused.json()["type"] == "urn:hubnet:problem:pool-exhausted"
        metrics = boot.get("/metrics").text
        assert 'hubnet_allocation_failures_total{reason="pool-exhausted"} 1.0' in metrics
        assert 'hubnet_pool_low{pool="10.244.0.0/16"} 1.0' in metrics
        with server.client(server.admin) as admin:
            body = admin.get("/v1/pools").json()
            assert [(p["total"], p["allocated"], p["free"], p["low"]) for p in body["items"]] == [(252, 252, 0, True)]
            assert body["warnings"] == ["pool 10.244.0.0/16: 0 of 252 subnets free (warning below 2%)"]
            assert admin.delete(f"/v1/nodes/{bodies[7]['name']}").status_code == 204
            pool = admin.get("/v1/pools").json()["items"][0]
            assert (pool["allocated"], pool["free"], pool["quarantined"]) == (251, 1, 1)

        # The freed subnet is still in quarantine, but nothing else is free: exactly one more fits.
        again = boot.post("/v1/nodes", json=node_body(1000, prefix="ex"))
        assert again.status_code == 201, again.text
        assert again.json()["subnet"] == answers[7].json()["subnet"]
        assert boot.post("/v1/nodes", json=node_body(1001, prefix="ex")).status_code == 409

        # a pool added at run time takes the next registrations
        with server.client(server.admin) as admin:
            added = admin.post("/v1/pools", json={"cidr": "10.245.0.0/16", "node_prefix": 24})
            assert added.status_code == 201 and added.json()["total"] == 256
            assert [p["cidr"] for p in admin.get("/v1/pools").json()["items"]] == ["10.244.0.0/16", "10.245.0.0/16"]
        assert 'hubnet_pool_low{pool="10.245.0.0/16"} 0.0' in boot.get("/metrics").text
        more = boot.post("/v1/nodes", json=node_body(1002, prefix="ex"))
        assert more.status_code == 201 and more.json()["subnet"] == "10.245.0.0/24"
        assert more.json()["cluster_cidrs"] == ["10.244.0.0/16", "10.245.0.0/16"]
    assert overlapping_pairs(server.db_url) == 0


def test_one_node_registering_50_times_at_once_gets_one_row(databases: Databases, db_kind: str, tmp_path: Path) -> None:
    server = Server(fresh_db(databases, db_kind), tmp_path)
    body = node_body(1, prefix="same")
    barrier = threading.Barrier(50)

    def register(client: httpx.Client) -> httpx.Response:
        barrier.wait(timeout=30)
        return client.post("/v1/nodes", json=body)

    with running(server), server.client(server.bootstrap) as boot:
        with ThreadPoolExecutor(50) as pool:
            answers = list(pool.map(register, [boot] * 50))
        assert Counter(a.status_code for a in answers) == {201: 1, 200: 49}
        assert len({a.json()["subnet"] for a in answers}) == 1
        assert len({a.json()["generation"] for a in answers}) == 1
    rows = sql(server.db_url, "SELECT count(*) FROM nodes WHERE name = :n", {"n": body["name"]})
    assert rows[0][0] == 1


def test_500_registrations_from_64_clients_over_two_processes(
    databases: Databases, db_kind: str, tmp_path: Path
) -> None:
    """Two controller processes on one database: 0 overlapping pairs, 500 rows, no 5xx."""
    url = fresh_db(databases, db_kind)
    env = {"HUBNET_CLUSTER_CIDR": "10.0.0.0/14"}
    first = Server(url, tmp_path, extra_env=env)
    second = Server(url, tmp_path, extra_env=env, admin=first.admin, bootstrap=first.bootstrap)
    bodies = [node_body(i, prefix="many") for i in range(500)]
    local = threading.local()

    def register(item: tuple[int, dict[str, Any]]) -> int:
        i, body = item
        if not hasattr(local, "clients"):  # one keep-alive client per worker thread and server
            local.clients = [s.client(first.bootstrap) for s in (first, second)]
        return int(local.clients[i % 2].post("/v1/nodes", json=body).status_code)

    try:
        first.launch()  # both start at once on the empty database: they also race to create the schema
        second.launch()
        first.wait_ready()
        second.wait_ready()
        with ThreadPoolExecutor(64) as pool:
            statuses = Counter(pool.map(register, enumerate(bodies)))
    finally:
        first.stop()
        second.stop()
    assert statuses == {201: 500}
    assert sql(url, "SELECT count(*) FROM nodes")[0][0] == 500
    assert overlapping_pairs(url) == 0
    assert len({s for (s,) in sql(url, "SELECT subnet FROM nodes")}) == 500


@pytest.mark.parametrize(("secret_kind", "status"), [("same", 200), ("other", 201)])
def test_released_node_returns_to_its_subnet(server: Server, secret_kind: str, status: int) -> None:
    """Re-join after delete: the previous subnet (not re-issued meanwhile), a higher generation. The same secret is
    the same node coming back (200); another secret is a new identity for that name (201)."""
    with server.client(server.bootstrap) as boot, server.client(server.admin) as admin:
        body = node_body(1, prefix=f"back-{secret_kind}")
        first = boot.post("/v1/nodes", json=body).json()
        assert admin.delete(f"/v1/nodes/{body['name']}").status_code == 204
        assert admin.get(f"/v1/nodes/{body['name']}").json()["state"] == "released"
        back = {**body, "secret": body["secret"] if secret_kind == "same" else new_secret()}
        again = boot.post("/v1/nodes", json=back)
        assert again.status_code == status, again.text
        assert again.json()["subnet"] == first["subnet"]
        assert again.json()["generation"] == first["generation"] + 1
        assert again.json()["state"] == "active"


def test_returning_node_whose_subnet_was_reissued_is_refused(
    databases: Databases, db_kind: str, tmp_path: Path
) -> None:
    """A full /22 pool: a's subnet goes to e while a is away; a gets the typed 409, never another node's subnet."""
    server = Server(fresh_db(databases, db_kind), tmp_path, extra_env={"HUBNET_CLUSTER_CIDR": "10.244.0.0/22"})
    bodies = {name: {**node_body(i, prefix="ri"), "name": name} for i, name in enumerate("abcde")}
    with running(server), server.client(server.bootstrap) as boot, server.client(server.admin) as admin:
        subnets = {n: boot.post("/v1/nodes", json=bodies[n]).json()["subnet"] for n in "abcd"}
        assert admin.delete("/v1/nodes/a").status_code == 204
        assert boot.post("/v1/nodes", json=bodies["e"]).json()["subnet"] == subnets["a"]

        refused = boot.post("/v1/nodes", json=bodies["a"])
        assert refused.status_code == 409
        problem = refused.json()
        assert problem["type"] == "urn:hubnet:problem:subnet-reissued"
        assert problem["subnet"] == subnets["a"] and problem["state"] == "released"

        # the operator resets node a and removes its record; then it registers afresh when room appears
        assert admin.delete("/v1/nodes/a").status_code == 204
        assert admin.get("/v1/nodes/a").status_code == 404
        assert admin.delete("/v1/nodes/b").status_code == 204
        fresh = boot.post("/v1/nodes", json=bodies["a"])
        assert fresh.status_code == 201
        assert (fresh.json()["subnet"], fresh.json()["generation"]) == (subnets["b"], 1)
    assert overlapping_pairs(server.db_url) == 0


def test_unknown_paths_and_methods_are_problems(server: Server) -> None:
    with server.client(server.admin) as admin:
        missing = admin.get("/v1/nope")
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
        assert admin.get("/v1/nodes/no-such-node").json()["type"] == "urn:hubnet:problem:not-found"
        wrong = admin.put("/v1/pools", json={})
        assert wrong.status_code == 405 and wrong.json()["type"] == "urn:hubnet:problem:method-not-allowed"
