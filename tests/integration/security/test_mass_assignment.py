"""Mass assignment (issue 17 item 2; OWASP API3): a field a client must never set — `subnet`, `generation`,
`state`, `route_state`, `admin`, `expires_at` — sent in a registration (new node or re-join) or a heartbeat body
(top level or inside `bridge`) gets 422 naming that field, and the node's row is exactly what it was (or, for a new
node, there is none). SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.support import Server, node_body, sql

FORBIDDEN: dict[str, Any] = {
    "subnet": "10.244.250.0/24",
    "generation": 99,
    "state": "released",
    "route_state": "programmed",
    "admin": True,
    "expires_at": 9_999_999_999.0,
}


def _row(server: Server, name: str) -> list[tuple[Any, ...]]:
    return sql(server.db_url, "SELECT * FROM nodes WHERE name = :n", {"n": name})


def _refused(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in answer.json()["errors"]], answer.text


@pytest.mark.parametrize("field", list(FORBIDDEN))
def test_registration_cannot_set_it(server: Server, field: str) -> None:
    body = node_body(1, prefix=f"mass-reg-{field.replace('_', '-')}")
    with server.client(server.bootstrap) as boot:
        _refused(boot.post("/v1/nodes", json={**body, field: FORBIDDEN[field]}), field)
        assert _row(server, body["name"]) == []  # a new node: no row at all
        assert boot.post("/v1/nodes", json=body).status_code == 201
        before = _row(server, body["name"])
        _refused(boot.post("/v1/nodes", json={**body, field: FORBIDDEN[field]}), field)  # a re-join
    assert _row(server, body["name"]) == before


@pytest.mark.parametrize("where", ["top level", "inside bridge"])
@pytest.mark.parametrize("field", list(FORBIDDEN))
def test_heartbeat_cannot_set_it(server: Server, field: str, where: str) -> None:
    body = node_body(1, prefix=f"mass-hb-{field.replace('_', '-')}-{where.split()[0]}")
    with server.client(server.bootstrap) as boot:
        assert boot.post("/v1/nodes", json=body).status_code == 201
    bridge = {"name": "v-net-0", "addresses": ["10.244.0.1/24"]}
    if where == "top level":
        sent, named = {"bridge": bridge, field: FORBIDDEN[field]}, field
    else:
        sent, named = {"bridge": {**bridge, field: FORBIDDEN[field]}}, f"bridge.{field}"
    before = _row(server, body["name"])
    for token in (body["secret"], server.admin):  # the node itself, and even an admin
        with server.client(token) as client:
            _refused(client.post(f"/v1/nodes/{body['name']}/heartbeat", json=sent), named)
    assert _row(server, body["name"]) == before  # not even the lease was renewed
    with server.client(body["secret"]) as node:  # the same heartbeat without the field is served
        assert node.post(f"/v1/nodes/{body['name']}/heartbeat", json={"bridge": bridge}).status_code == 200
    assert _row(server, body["name"]) != before
