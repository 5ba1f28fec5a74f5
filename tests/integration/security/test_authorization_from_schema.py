"""Function-level authorization read from the API's own document, not from a hand list (issue 17 item 3).

Every operation of a live server's `/openapi.json` is called with no token, a wrong token, a bootstrap token (from
the environment and one created at run time), a node's secret, another node's secret and the admin token. Who may
call an operation is its OpenAPI security requirement (the bearer schemes `admin`, `bootstrap`, `node`, see
docs/api.md; none: anonymous), so an operation added later is covered the day it is served. Pass: every caller the
document does not name gets 401 (no or an unknown credential) or 403 (a valid credential without the right), also
with a malformed body or query — authentication comes before validation — and nothing changes; every caller it names
gets an answer that is not 401/403 (the admin: 2xx or a 4xx that is not about authentication, never 5xx).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import fresh_db
from tests.integration.support import Databases, Server, new_secret, node_body, running, sql

PROBLEM = "application/problem+json"
ROLES = {"admin", "bootstrap", "node", "router"}


@dataclass(frozen=True)
class Caller:
    label: str
    token: str | None
    role: str | None  # the security scheme this credential satisfies; None: none (401)
    own: bool = True  # False: a node's secret calling about another node's record


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    roles: frozenset[str]  # empty: anonymous
    spec: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


@pytest.fixture(scope="module")
def live(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Hundreds of deliberate 401s from one address: the failed-auth limit would answer them with 429.
    env = {"HUBNET_RATE_LIMIT_AUTH_FAILURES_PER_SECOND": "0"}
    server = Server(fresh_db(databases, "sqlite"), Path(tmp_path_factory.mktemp("authz")), extra_env=env)
    with running(server) as srv:
        yield srv


def operations(document: dict[str, Any]) -> list[Operation]:
    found = []
    for path, methods in document["paths"].items():
        for method, spec in methods.items():
            roles = frozenset(name for requirement in spec.get("security", []) for name in requirement)
            found.append(Operation(method.upper(), path, roles, spec))
    return found


def _example(param: dict[str, Any]) -> str:
    """A value for a path or query parameter: its documented example, else one of its type."""
    schema = param.get("schema", {})
    for source in (param, schema):
        if source.get("examples"):
            examples = source["examples"]
            first = examples[0] if isinstance(examples, list) else next(iter(examples.values()))["value"]
            return str(first)
        if "example" in source:
            return str(source["example"])
    kinds = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
    return "1" if kinds & {"integer", "number"} else "x"


def _request(op: Operation, caller: Caller, node: str, *, garbage: bool) -> dict[str, Any]:
    """The request for `op`: documented values (a `{name}` is the node `node`), or with `garbage` a malformed body
    and query — what only an authorized caller may learn is malformed."""
    params = {p["name"]: p for p in op.spec.get("parameters", [])}
    path = op.path
    for name in re.findall(r"{([^}]+)}", op.path):
        value = node if name == "name" else _example(params.get(name, {}))
        path = path.replace("{" + name + "}", value)
    query = {n: ("%%%" if garbage else _example(p)) for n, p in params.items() if p.get("in") == "query"}
    query = {n: v for n, v in query.items() if garbage or params[n].get("required")}
    request: dict[str, Any] = {"method": op.method, "url": path, "params": query}
    if caller.token is not None:
        request["headers"] = {"Authorization": f"Bearer {caller.token}"}
    if "requestBody" in op.spec:
        request["content"] = b"{not json" if garbage else b"{}"
        request.setdefault("headers", {})["content-type"] = "application/json"
    return request


def _expected(op: Operation, caller: Caller) -> int | None:
    """401 / 403 for a caller the document does not name; None for one it names (any answer but 401/403)."""
    if not op.roles or (caller.role in op.roles and caller.own):
        return None
    if caller.role is None:
        return 401
    return 403


def _state(server: Server) -> tuple[Any, ...]:
    """Everything a refused call might have changed: the rows of every table that holds state."""
    return tuple(
        tuple(sql(server.db_url, f"SELECT * FROM {table} ORDER BY 1"))
        for table in ("nodes", "pools", "bootstrap_tokens", "bgp_peers", "revision_counter")
    )


def _callers(server: Server, prefix: str) -> tuple[list[Caller], str]:
    """The callers, and the node whose record `{name}` names (the first node secret's own)."""
    mine, other = node_body(1, prefix=prefix), node_body(2, prefix=prefix)
    with server.client(server.bootstrap) as boot:
        for body in (mine, other):
            assert boot.post("/v1/nodes", json=body).status_code == 201
        # a router agent named like the node, so a `{name}` path is its own record too (routers and nodes are
        # separate namespaces)
        router_secret = new_secret()
        joined = boot.post("/v1/routers", json={"name": mine["name"], "secret": router_secret})
        assert joined.status_code in (200, 201), joined.text
    with server.client(server.admin) as admin:
        stored = admin.post("/v1/tokens", json={"max_uses": 1, "description": "authz"}).json()["token"]
    callers = [
        Caller("no token", None, None),
        Caller("wrong token", "wrong-" + new_secret(), None),
        Caller("bootstrap token", server.bootstrap, "bootstrap"),
        Caller("stored bootstrap token", stored, "bootstrap"),
        Caller("node secret, own record", mine["secret"], "node"),
        Caller("node secret, another node's record", other["secret"], "node", own=False),
        Caller("router secret", router_secret, "router"),
    ]
    return callers, str(mine["name"])


def test_every_operation_refuses_callers_its_document_does_not_name(live: Server) -> None:
    document = httpx.get(f"{live.url}/openapi.json", timeout=10).json()
    ops = operations(document)
    schemes = set(document["components"].get("securitySchemes", {}))
    assert schemes == ROLES, f"unknown security schemes: {schemes - ROLES} (docs/api.md names the roles)"
    undeclared = [op.label for op in ops if op.path.startswith("/v1") and not op.roles]
    assert undeclared == [], f"/v1 operations that do not declare who may call them (deps.Admin, ...): {undeclared}"
    callers, node = _callers(live, "authz-refused")
    before = _state(live)
    refused: Counter[int] = Counter()
    with httpx.Client(base_url=live.url, timeout=30) as client:
        for op in ops:
            for caller in callers:
                expected = _expected(op, caller)
                if expected is None:
                    continue
                for garbage in (False, True):
                    answer = client.request(**_request(op, caller, node, garbage=garbage))
                    where = f"{op.label} as {caller.label} ({'garbage' if garbage else 'documented'} input)"
                    assert answer.status_code == expected, f"{where}: {answer.status_code} {answer.text}"
                    assert answer.headers["content-type"].startswith(PROBLEM), where
                    assert expected != 401 or answer.headers.get("www-authenticate") == "Bearer", where
                    refused[expected] += 1
    assert _state(live) == before, "a refused call changed the database"
    admin_only = sum(1 for op in ops if op.roles == {"admin"})
    print(f"authz: {len(ops)} operations ({admin_only} admin only), refused {dict(refused)}; state unchanged")
    assert admin_only >= 15 and refused[401] > 0 and refused[403] > 0


def test_every_operation_serves_the_callers_its_document_names(live: Server) -> None:
    document = httpx.get(f"{live.url}/openapi.json", timeout=10).json()
    ops = operations(document)
    callers, node = _callers(live, "authz-served")
    admin = Caller("admin token", live.admin, "admin")
    served: Counter[int] = Counter()
    with httpx.Client(base_url=live.url, timeout=30) as client:
        # DELETEs last: a node deleting its own record first would turn its other calls into 409s (still served)
        for op in sorted(ops, key=lambda o: o.method == "DELETE"):
            for caller in [*callers, admin]:
                if _expected(op, caller) is not None:
                    continue
                for garbage in (False, True):
                    answer = client.request(**_request(op, caller, node, garbage=garbage))
                    where = f"{op.label} as {caller.label} ({'garbage' if garbage else 'documented'} input)"
                    assert answer.status_code not in (401, 403), f"{where}: {answer.status_code} {answer.text}"
                    assert answer.status_code < 500, f"{where}: {answer.status_code} {answer.text}"
                    served[answer.status_code] += 1
    print(f"authz: callers the document names were served: {dict(sorted(served.items()))}")
    assert served[200] > 0 and served[422] > 0
