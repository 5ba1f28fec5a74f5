"""After a whole run (registrations with configured and stored tokens, re-joins, heartbeats, reads, auth failures,
validation errors, token management, a delete) at debug log level with the access log on, neither a dump of the
whole database nor the server's whole log output holds any node secret or token in plain text."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from tests.integration.conftest import fresh_db
from tests.integration.support import HUBNET, Databases, Server, new_secret, node_body, running


class LoudServer(Server):
    """`hubnet server --access-log` at HUBNET_LOG_LEVEL=debug: the most the controller ever logs."""

    def command(self) -> list[str]:
        return [HUBNET, "server", "--access-log"]


def _exercise(server: Server) -> list[str]:
    """Drive every kind of request; returns every credential that crossed the wire."""
    with server.client(server.admin) as admin:
        stored = admin.post("/v1/tokens", json={"description": "dump test", "max_uses": 3}).json()["token"]
        listed = admin.get("/v1/tokens")
        assert listed.status_code == 200
    bodies = [node_body(i, prefix="dump") for i in range(6)]
    guesses = [new_secret() for _ in range(3)]
    short = "short-secret-" + new_secret()[:10]
    for i, body in enumerate(bodies):
        with server.client(stored if i < 3 else server.bootstrap) as boot:
            assert boot.post("/v1/nodes", json=body).status_code == 201
            assert boot.post("/v1/nodes", json=body).status_code == 200
        with server.client(body["secret"]) as node:
            assert node.post(f"/v1/nodes/{body['name']}/heartbeat").status_code == 200
            assert node.get(f"/v1/nodes/{body['name']}").status_code == 200
            assert node.post(f"/v1/nodes/{bodies[0 if i else 1]['name']}/heartbeat").status_code == 403
    with server.client(server.bootstrap) as boot:
        assert boot.post("/v1/nodes", json={**node_body(9, prefix="dump"), "secret": short}).status_code == 422
        assert boot.post("/v1/nodes", json={**bodies[0], "secret": guesses[0]}).status_code == 409
        assert boot.post("/v1/nodes", json={**bodies[1], "extra": bodies[1]["secret"]}).status_code == 422
        assert boot.get("/v1/nodes").status_code == 403
    for guess in guesses:
        with server.client(guess) as client:
            assert client.post(f"/v1/nodes/{bodies[2]['name']}/heartbeat").status_code == 401
            assert client.post("/v1/nodes", json=node_body(10, prefix="dump")).status_code == 401
    with server.client(bodies[5]["secret"]) as node:
        assert node.delete(f"/v1/nodes/{bodies[5]['name']}").status_code == 204
    return [server.admin, server.bootstrap, stored, short, *guesses, *(b["secret"] for b in bodies)]


def _dump(db_url: str) -> str:
    if db_url.startswith("sqlite:///"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            return "\n".join(conn.iterdump())
    import psycopg

    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        assert {"nodes", "bootstrap_tokens", "events"} <= set(tables)
        rows = [str(row) for table in tables for row in conn.execute(f'SELECT * FROM "{table}"').fetchall()]
    return "\n".join(rows)


@pytest.mark.timeout(120)
def test_no_secret_in_database_dump_or_logs(
    databases: Databases, db_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    url = fresh_db(databases, db_kind)
    log_dir = Path(tmp_path_factory.mktemp("loud"))
    server = LoudServer(url, log_dir, extra_env={"HUBNET_LOG_LEVEL": "debug"})
    with running(server):
        credentials = _exercise(server)
    dump, logs = _dump(url), "\n".join(p.read_text(errors="replace") for p in log_dir.glob("server-*.log"))
    assert "dump-0" in dump and "dump test" in dump  # the dump holds the rows (nodes and tokens) ...
    assert '"POST /v1/nodes HTTP/1.1" 401' in logs and "DEBUG" in logs  # ... and the log every request, at debug
    stored_forms = [hashlib.sha256(c.encode()).hexdigest() for c in (credentials[2], credentials[-1])]
    assert all(h in dump for h in stored_forms)  # the secret columns are in the dump, as hashes
    in_dump = [c[:12] for c in credentials if c in dump]
    in_logs = [c[:12] for c in credentials if c in logs]
    assert in_dump == [] and in_logs == []
