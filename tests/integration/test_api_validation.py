"""Bad input and wrong credentials against a real server: the right 4xx problem+json naming the field, no row."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.integration.support import Server, new_secret, node_body

PROBLEM = "application/problem+json"


def _state(server: Server) -> tuple[int, int]:
    """(number of node rows, event revision): both unchanged after a refused request."""
    with server.client(server.admin) as admin:
        nodes = admin.get("/v1/nodes", params={"limit": 1000}).json()["items"]
        revision = admin.get("/v1/events", params={"since": 0, "limit": 1}).json()
    with server.client(server.admin) as admin:
        last = admin.get("/v1/events", params={"since": 0, "limit": 1000}).json()["revision"]
    del revision
    return len(nodes), last


def _assert_problem(response: httpx.Response, status: int, field: str | None = None, slug: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"].startswith("urn:hubnet:")
    if slug:
        assert body["type"] == f"urn:hubnet:problem:{slug}", body
    if field:
        assert field in [e["field"] for e in body["errors"]], body


def _body(**overrides: Any) -> dict[str, Any]:
    """A valid registration with some fields replaced; a field set to `...` is left out."""
    body: dict[str, Any] = {"name": "valid-node", "address": "192.168.200.1", "secret": new_secret()}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not Ellipsis}


REGISTRATION_CASES = {
    "name upper-case": (_body(name="Node1"), 422, "name"),
    "name leading dash": (_body(name="-node"), 422, "name"),
    "name underscore": (_body(name="no_de"), 422, "name"),
    "name too long": (_body(name="a" * 64), 422, "name"),
    "name empty": (_body(name=""), 422, "name"),
    "name wrong type": (_body(name=5), 422, "name"),
    "name missing": (_body(name=...), 422, "name"),
    "address garbage": (_body(address="not-an-ip"), 422, "address"),
    # dual-stack contract: IPv6 is valid input, but an IPv4-only cluster has no pool of its family; the answer names
    # the field the client sent (`address`; `addresses` when a list was sent)
    "address ipv6": (_body(address="fd00::1"), 422, "address"),
    "addresses ipv6 only": (_body(address="fd00::1", addresses=["fd00::1"]), 422, "addresses"),
    "addresses two ipv4": (_body(addresses=["192.168.200.1", "192.168.200.2"]), 422, "addresses"),
    "addresses without address": (_body(addresses=["192.168.200.2"]), 422, "addresses"),
    "addresses link-local ipv6": (_body(addresses=["192.168.200.1", "fe80::1"]), 422, "addresses"),
    "addresses three": (_body(addresses=["192.168.200.1", "fd00:1::1", "fd00:1::2"]), 422, "addresses"),
    "addresses empty": (_body(addresses=[]), 422, "addresses"),
    "addresses not a list": (_body(addresses="192.168.200.1"), 422, "addresses"),
    "address loopback": (_body(address="127.0.0.1"), 422, "address"),
    "address link-local": (_body(address="169.254.1.1"), 422, "address"),
    "address multicast": (_body(address="224.0.0.5"), 422, "address"),
    "address broadcast": (_body(address="255.255.255.255"), 422, "address"),
    "address unspecified": (_body(address="0.0.0.0"), 422, "address"),
    "address in pool": (_body(address="10.244.7.9"), 422, "address"),
    "address in service cidr": (_body(address="10.96.0.10"), 422, "address"),
    "address is router": (_body(address="192.168.255.254"), 422, "address"),
    "secret too short": (_body(secret="short"), 422, "secret"),
    "secret with spaces": (_body(secret="x" * 40 + " " + "y" * 10), 422, "secret"),
    "machine_id too long": (_body(machine_id="m" * 300), 422, "machine_id"),
    "unknown field": (_body(colour="blue"), 422, "colour"),
}


@pytest.mark.parametrize("case", list(REGISTRATION_CASES))
def test_registration_input_is_validated(server: Server, case: str) -> None:
    body, status, field = REGISTRATION_CASES[case]
    before = _state(server)
    with server.client(server.bootstrap) as boot:
        _assert_problem(boot.post("/v1/nodes", json=body), status, field)
    assert _state(server) == before


def test_address_of_another_node_is_409(server: Server) -> None:
    with server.client(server.bootstrap) as boot:
        first = node_body(1, prefix="addr")
        assert boot.post("/v1/nodes", json=first).status_code == 201
        before = _state(server)
        clash = {**node_body(2, prefix="addr"), "address": first["address"]}
        _assert_problem(boot.post("/v1/nodes", json=clash), 409, "address", "address-taken")
    assert _state(server) == before


def test_malformed_and_oversized_bodies(server: Server) -> None:
    before = _state(server)
    with server.client(server.bootstrap) as boot:
        headers = {"content-type": "application/json"}
        _assert_problem(boot.post("/v1/nodes", content=b"{not json", headers=headers), 422)
        _assert_problem(boot.post("/v1/nodes", json=[1, 2]), 422)
        big = {**_body(), "machine_id": "m" * (70 * 1024)}
        _assert_problem(boot.post("/v1/nodes", json=big), 413, "body", "body-too-large")

        def chunks() -> Any:  # no Content-Length: the server must count the streamed body
            for _ in range(70):
                yield b" " * 1024

        _assert_problem(boot.post("/v1/nodes", content=chunks(), headers=headers), 413, "body")
    assert _state(server) == before


def test_registration_authenticates_before_reading_the_body(server: Server) -> None:
    """No or an unknown credential: 401 whatever the body (malformed JSON, wrong shape, bad field, missing field);
    a node's secret: 403; a bootstrap token: the 422 naming the field."""
    headers = {"content-type": "application/json"}
    bodies = [b"{not json", b"[1, 2]", b"", json.dumps(_body(name="Not_A_Label")).encode(), b'{"name": "x"}']
    with server.client(server.bootstrap) as boot:
        node = node_body(90, prefix="authfirst")
        assert boot.post("/v1/nodes", json=node).status_code == 201
    before = _state(server)
    for credential, status in ((None, 401), ("garbage-token-" + new_secret(), 401), (node["secret"], 403)):
        with server.client(credential) as client:
            for raw in bodies:
                _assert_problem(client.post("/v1/nodes", content=raw, headers=headers), status)
    with server.client(server.bootstrap) as boot:
        _assert_problem(boot.post("/v1/nodes", content=bodies[3], headers=headers), 422, "name", "invalid-input")
        _assert_problem(boot.post("/v1/nodes", content=bodies[4], headers=headers), 422, "address", "invalid-input")
    assert _state(server) == before


QUERY_CASES: dict[str, tuple[str, str, dict[str, Any], dict[str, Any] | None, str]] = {
    "nodes limit zero": ("GET", "/v1/nodes", {"limit": 0}, None, "limit"),
    "nodes bad state": ("GET", "/v1/nodes", {"state": "sleeping"}, None, "state"),
    "nodes bad cursor": ("GET", "/v1/nodes", {"cursor": "%%%"}, None, "cursor"),
    "lookup bad ip": ("GET", "/v1/lookup", {"ip": "10.244.x.1"}, None, "ip"),
    "lookup missing ip": ("GET", "/v1/lookup", {}, None, "ip"),
    "events negative since": ("GET", "/v1/events", {"since": -1}, None, "since"),
    "events wait too long": ("GET", "/v1/events", {"wait": 9999}, None, "wait"),
    "pool bad cidr": ("POST", "/v1/pools", {}, {"cidr": "10.300.0.0/16"}, "cidr"),
    "pool host bits": ("POST", "/v1/pools", {}, {"cidr": "10.50.0.1/16"}, "cidr"),
    "pool prefix too small": ("POST", "/v1/pools", {}, {"cidr": "10.50.0.0/16", "node_prefix": 8}, "node_prefix"),
    "pool unknown field": ("POST", "/v1/pools", {}, {"cidr": "10.50.0.0/16", "x": 1}, "x"),
    "pool overlapping": ("POST", "/v1/pools", {}, {"cidr": "10.244.128.0/17"}, "cidr"),
}


@pytest.mark.parametrize("case", list(QUERY_CASES))
def test_admin_input_is_validated(server: Server, case: str) -> None:
    method, path, params, body, field = QUERY_CASES[case]
    before = _state(server)
    with server.client(server.admin) as admin:
        response = admin.request(method, path, params=params, json=body)
    _assert_problem(response, 409 if case == "pool overlapping" else 422, field)
    assert _state(server) == before


def test_auth_matrix_nodes_cannot_touch_each_other(server: Server) -> None:
    """20 nodes; each secret against the other 19 nodes' GET / heartbeat / DELETE: never a 2xx."""
    secrets_by_name: dict[str, str] = {}
    with server.client(server.bootstrap) as boot:
        for i in range(20):
            body = node_body(i, prefix="mx")
            assert boot.post("/v1/nodes", json=body).status_code == 201
            secrets_by_name[body["name"]] = body["secret"]
    statuses: dict[int, int] = {}
    with server.client() as anon:
        for caller, secret in secrets_by_name.items():
            auth = {"Authorization": f"Bearer {secret}"}
            for target in secrets_by_name:
                if target == caller:
                    continue
                for method, path in (
                    ("GET", f"/v1/nodes/{target}"),
                    ("POST", f"/v1/nodes/{target}/heartbeat"),
                    ("DELETE", f"/v1/nodes/{target}"),
                ):
                    code = anon.request(method, path, headers=auth).status_code
                    statuses[code] = statuses.get(code, 0) + 1
        assert statuses == {403: 20 * 19 * 3}
        # ... and each node can still act on its own record.
        for name, secret in secrets_by_name.items():
            auth = {"Authorization": f"Bearer {secret}"}
            assert anon.get(f"/v1/nodes/{name}", headers=auth).json()["state"] == "active"
            assert anon.post(f"/v1/nodes/{name}/heartbeat", headers=auth).status_code == 200


def test_auth_matrix_admin_operations(server: Server) -> None:
    """Every admin operation with no token, garbage, a bootstrap token and a node secret: 401/403 every time."""
    with server.client(server.bootstrap) as boot:
        target, other = node_body(1, prefix="am"), node_body(2, prefix="am")
        assert boot.post("/v1/nodes", json=target).status_code == 201
        assert boot.post("/v1/nodes", json=other).status_code == 201
    operations = [
        ("GET", "/v1/nodes", None),
        ("GET", f"/v1/nodes/{target['name']}", None),
        ("DELETE", f"/v1/nodes/{target['name']}", None),
        ("POST", f"/v1/nodes/{target['name']}/heartbeat", None),
        ("GET", "/v1/pools", None),
        ("POST", "/v1/pools", {"cidr": "10.77.0.0/16", "node_prefix": 24}),
        ("DELETE", "/v1/pools/10.244.0.0/16", None),
        ("GET", "/v1/lookup?ip=10.244.0.5", None),
        ("GET", "/v1/events?since=0", None),
        ("GET", "/v1/routes", None),
    ]
    credentials = {None: 401, "garbage-token-" + new_secret(): 401, server.bootstrap: 403, other["secret"]: 403}
    before = _state(server)
    with server.client() as anon:
        for token, expected in credentials.items():
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            for method, path, body in operations:
                response = anon.request(method, path, headers=headers, json=body)
                assert response.status_code == expected, (token, method, path, response.text)
                assert response.headers["content-type"].startswith(PROBLEM)
        # registration itself: bootstrap or admin only
        new = node_body(9, prefix="am")
        assert anon.post("/v1/nodes", json=new).status_code == 401
        assert (
            anon.post("/v1/nodes", json=new, headers={"Authorization": f"Bearer {other['secret']}"}).status_code == 403
        )
        assert anon.post("/v1/nodes", json=new, headers={"Authorization": "Basic abc"}).status_code == 401
    assert _state(server) == before


def test_same_name_other_secret_is_refused(server: Server) -> None:
    with server.client(server.bootstrap) as boot:
        first = node_body(1, prefix="dup")
        assert boot.post("/v1/nodes", json=first).status_code == 201
        before = _state(server)
        thief = {**first, "secret": new_secret(), "address": "192.168.201.1"}
        _assert_problem(boot.post("/v1/nodes", json=thief), 409, "name", "name-taken")
    assert _state(server) == before
