"""Bootstrap tokens in the database: expiry, maximum uses (counted only when a node is created), revocation,
admin-only management, the CLI, and max uses holding under concurrent registrations through two controller
processes sharing one database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import fresh_db
from tests.integration.support import HUBNET, Databases, Server, node_body, running, sql


def _create(server: Server, **body: Any) -> dict[str, Any]:
    with server.client(server.admin) as admin:
        answer = admin.post("/v1/tokens", json=body)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def _listed(server: Server, token_id: int) -> dict[str, Any]:
    with server.client(server.admin) as admin:
        items = admin.get("/v1/tokens").json()["items"]
    found: dict[str, Any] = next(item for item in items if item["id"] == token_id)
    return found


def test_max_uses_counts_only_new_nodes(server: Server) -> None:
    created = _create(server, description="rack 7", max_uses=2)
    assert created["token"].startswith("hubnet-bt-") and created["uses"] == 0 and created["state"] == "active"
    bodies = [node_body(i, prefix="tok-max") for i in range(3)]
    with server.client(created["token"]) as boot:
        assert [boot.post("/v1/nodes", json=b).status_code for b in bodies[:2]] == [201, 201]
        assert boot.post("/v1/nodes", json=bodies[0]).status_code == 200  # idempotent re-join: no use spent
        refused = boot.post("/v1/nodes", json=bodies[2])
        assert boot.post("/v1/nodes", json=bodies[1]).status_code == 200  # exhausted still lets its nodes re-join
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    assert "no uses left (2 of 2 used)" in refused.json()["detail"]
    listed = _listed(server, created["id"])
    assert listed["uses"] == 2 and listed["state"] == "exhausted" and "token" not in listed
    assert "token_hash" not in listed


def test_expired_token_admits_no_new_node(server: Server) -> None:
    created = _create(server, ttl_seconds=1.5)
    first, second = node_body(1, prefix="tok-exp"), node_body(2, prefix="tok-exp")
    with server.client(created["token"]) as boot:
        assert boot.post("/v1/nodes", json=first).status_code == 201
        time.sleep(max(0.0, created["expires_at"] - time.time()) + 0.2)
        refused = boot.post("/v1/nodes", json=second)
        assert boot.post("/v1/nodes", json=first).status_code == 200  # re-join needs the node's secret, not a use
    assert refused.status_code == 403 and "expired" in refused.json()["detail"]
    assert _listed(server, created["id"])["state"] == "expired"


def test_revoked_token_admits_nothing(server: Server) -> None:
    created = _create(server, max_uses=5)
    body = node_body(1, prefix="tok-rev")
    with server.client(created["token"]) as boot, server.client(server.admin) as admin:
        assert boot.post("/v1/nodes", json=body).status_code == 201
        assert admin.delete(f"/v1/tokens/{created['id']}").status_code == 204
        assert admin.delete(f"/v1/tokens/{created['id']}").status_code == 204  # idempotent
        assert boot.post("/v1/nodes", json=node_body(2, prefix="tok-rev")).status_code == 401
        assert boot.post("/v1/nodes", json=body).status_code == 401
        assert admin.delete("/v1/tokens/999999").status_code == 404
    with server.client(body["secret"]) as node:  # the node it admitted keeps its lease
        assert node.post(f"/v1/nodes/{body['name']}/heartbeat").status_code == 200
    assert _listed(server, created["id"])["state"] == "revoked"


def test_environment_tokens_stay_unlimited(server: Server) -> None:
    with server.client(server.bootstrap) as boot:
        codes = [boot.post("/v1/nodes", json=node_body(i, prefix="tok-env")).status_code for i in range(5)]
    assert codes == [201] * 5


@pytest.mark.parametrize(
    ("who", "status"), [("bootstrap", 403), ("stored", 403), ("node", 403), ("nobody", 401)], ids=str
)
def test_only_admins_manage_tokens(server: Server, who: str, status: int) -> None:
    stored = _create(server, max_uses=1)["token"]
    body = node_body(1, prefix=f"tok-who-{who}")
    with server.client(server.bootstrap) as boot:
        assert boot.post("/v1/nodes", json=body).status_code == 201
    token = {"bootstrap": server.bootstrap, "stored": stored, "node": body["secret"], "nobody": None}[who]
    with server.client(token) as client:
        answers = [client.post("/v1/tokens", json={}), client.get("/v1/tokens"), client.delete("/v1/tokens/1")]
    assert [a.status_code for a in answers] == [status] * 3


@pytest.mark.parametrize(
    ("body", "field"),
    [({"max_uses": 0}, "max_uses"), ({"ttl_seconds": -1}, "ttl_seconds"), ({"extra": 1}, "extra")],
    ids=["zero-uses", "negative-ttl", "unknown-field"],
)
def test_bad_token_requests_name_the_field(server: Server, body: dict[str, Any], field: str) -> None:
    with server.client(server.admin) as admin:
        answer = admin.post("/v1/tokens", json=body)
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == field


def test_cli_create_list_revoke(server: Server) -> None:
    env = {**os.environ, "HUBNET_URL": server.url, "HUBNET_TOKEN": server.admin}

    def hubnet(*args: str) -> str:
        done = subprocess.run([HUBNET, "tokens", *args], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    value = hubnet("create", "--max-uses", "1", "--ttl", "3600", "--description", "cli").strip()
    assert value.startswith("hubnet-bt-")
    with server.client(value) as boot:
        assert boot.post("/v1/nodes", json=node_body(1, prefix="tok-cli")).status_code == 201
    rows = json.loads(hubnet("list", "-o", "json"))
    mine = next(r for r in rows if r["description"] == "cli")
    assert mine["uses"] == 1 and mine["state"] == "exhausted" and value not in json.dumps(rows)
    assert f"revoked token {mine['id']}" in hubnet("revoke", str(mine["id"]))
    assert _listed(server, mine["id"])["state"] == "revoked"


@pytest.mark.timeout(120)
def test_concurrent_registrations_never_exceed_max_uses(
    databases: Databases, db_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """40 distinct nodes race for a token with 5 uses through two controller processes on one database."""
    url = fresh_db(databases, db_kind)
    first = Server(url, Path(tmp_path_factory.mktemp("tok-a")))
    second = Server(url, Path(tmp_path_factory.mktemp("tok-b")), admin=first.admin, bootstrap=first.bootstrap)
    with running(first), running(second):
        token = _create(first, max_uses=5)
        bodies = [node_body(i, prefix="race") for i in range(40)]

        def register(i: int) -> int:
            target = (first, second)[i % 2]
            with httpx.Client(base_url=target.url, headers={"Authorization": f"Bearer {token['token']}"}) as c:
                return c.post("/v1/nodes", json=bodies[i], timeout=30).status_code

        with ThreadPoolExecutor(max_workers=20) as pool:
            codes = list(pool.map(register, range(40)))
        uses = _listed(second, token["id"])["uses"]
    assert sorted(set(codes)) == [201, 403] and codes.count(201) == 5, codes
    assert uses == 5
    assert sql(url, "SELECT count(*) FROM nodes WHERE name LIKE 'race-%'") == [(5,)]


def test_token_values_are_never_listed_or_stored(server: Server) -> None:
    created = _create(server, description="secret-check")
    with server.client(server.admin) as admin:
        listing = admin.get("/v1/tokens").text
    assert created["token"] not in listing
    stored = sql(server.db_url, "SELECT token_hash FROM bootstrap_tokens WHERE id = :i", {"i": created["id"]})
    assert stored and stored[0][0] != created["token"] and len(stored[0][0]) == 64
