"""Helpers of the router agent tests (test_routers.py, test_route_feed.py): a controller in agent mode and a client
that plays a router agent over the real API."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.integration.support import Databases, Server, node_body, running

PROBLEM = "application/problem+json"


def agent_server(url: str, log_dir: Path, **env: str) -> Server:
    """A controller in agent mode (HUBNET_ROUTE_BACKEND=none) that tolerates the auth matrices' many failures."""
    extra = {"HUBNET_RATE_LIMIT_AUTH_FAILURES_PER_SECOND": "0", **env}
    return Server(url, log_dir, extra_env=extra)


@contextmanager
def agent_servers(databases: Databases, kind: str, log_dir: Path, **env: str) -> Iterator[Server]:
    from tests.integration.conftest import fresh_db

    with running(agent_server(fresh_db(databases, kind), log_dir, **env)) as server:
        yield server


def router_secret() -> str:
    return secrets.token_urlsafe(32)


def wait_for(check: Callable[[], Any], timeout: float = 10.0, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        time.sleep(step)


@dataclass
class Api:
    """Calls on one controller with a chosen credential (None: no Authorization header)."""

    server: Server
    made: list[str] = field(default_factory=list)  # routers this test joined (deleted at the end)

    def call(self, method: str, path: str, token: str | None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, f"{self.server.url}{path}", headers=headers, timeout=90, **kwargs)

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.call(method, path, self.server.admin, **kwargs)

    def join(self, name: str, secret: str | None = None, token: str | None = None) -> str:
        """Join router `name` (bootstrap token by default); its secret."""
        secret = secret or router_secret()
        answer = self.call("POST", "/v1/routers", token or self.server.bootstrap, json={"name": name, "secret": secret})
        assert answer.status_code in (200, 201), answer.text
        self.made.append(name)
        return secret

    def report(
        self, name: str, secret: str, *states: tuple[str, int, str], complete: bool = True, revision: int | None = None
    ) -> dict[str, Any]:
        """Report as a router whose table reflects `revision` (default: the current one, an up-to-date router)."""
        body = {
            "revision": self.revision() if revision is None else revision,
            "complete": complete,
            "route_count": len(states),
            "missing": 0,
            "unexpected": 0,
            "foreign": 0,
            "error": None,
            "states": [{"node": n, "generation": g, "state": s, "error": None} for n, g, s in states],
        }
        answer = self.call("POST", f"/v1/routers/{name}/report", secret, json=body)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def node(self, i: int, prefix: str) -> dict[str, Any]:
        """Register node `<prefix>-<i>`; its record."""
        answer = self.call("POST", "/v1/nodes", self.server.bootstrap, json=node_body(i, prefix=prefix))
        assert answer.status_code == 201, answer.text
        record: dict[str, Any] = answer.json()
        return record

    def record(self, name: str) -> dict[str, Any]:
        answer = self.admin("GET", f"/v1/nodes/{name}")
        assert answer.status_code == 200, answer.text
        record: dict[str, Any] = answer.json()
        return record

    def revision(self) -> int:
        """The current event revision (a full feed answer carries it)."""
        return int(self.admin("GET", "/v1/routes", params={"since": 0}).json()["revision"])

    def cleanup(self) -> None:
        for name in self.made:
            self.admin("DELETE", f"/v1/routers/{name}")


def assert_problem(answer: httpx.Response, status: int, field: str | None = None, slug: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM), answer.headers
    body = answer.json()
    if slug is not None:
        assert body["type"] == f"urn:hubnet:problem:{slug}", body
    if field is not None:
        assert field in [e["field"] for e in body.get("errors", [])], body
