"""schemathesis against a live `hubnet server` (uvicorn, loopback), on SQLite and on PostgreSQL: every check, every
phase including the stateful one, once with an admin token and once with a node's own secret: 0 failures. And every
route the app serves is in its OpenAPI document."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.routing import BaseRoute, Route

from hubnet.server.app import create_app
from hubnet.server.settings import Settings
from tests.integration.conftest import DB_KINDS, fresh_db
from tests.integration.support import Databases, Server, node_body, running
from tests.support.prereq import need

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
DOC_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
# The web console's static files (hubnet/server/api/ui.py): no data, no credential, a client of the documented API.
DOC_ROUTES |= {"/ui", "/ui/", "/ui/{name}"}


@pytest.fixture(scope="module", params=DB_KINDS)
def live(
    request: pytest.FixtureRequest, databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    # Fuzzing sends thousands of unauthenticated and bogus-credential requests from one address on purpose: the
    # failed-auth limit would answer them all with 429 (tested in test_rate_limits.py).
    env = {"HUBNET_RATE_LIMIT_AUTH_FAILURES_PER_SECOND": "0"}
    server = Server(fresh_db(databases, str(request.param)), Path(tmp_path_factory.mktemp("st")), extra_env=env)
    with running(server) as srv:
        yield srv


def _run(server: Server, credential: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    need(shutil.which(SCHEMATHESIS) is not None, "needs schemathesis (pip install -e '.[test]')")
    cmd = [
        SCHEMATHESIS,
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        "all",
        # The one check left out: DELETE /v1/nodes/{name} *releases* the node (docs/api.md); the record stays
        # readable with "state": "released", so a returning node and an admin can see what became of its subnet.
        # "Deleted resource still available" is that contract, not a leak (schemathesis applies a per-operation
        # override of this check only outside the stateful phase, so it is excluded here, for the whole run).
        "--exclude-checks",
        "use_after_free",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        "25",
        "--seed",
        "20261128",
        "--workers",
        "1",
        "--header",
        f"Authorization: Bearer {credential}",
        "--report-dir",
        str(tmp),
    ]
    env = {**os.environ, "SCHEMATHESIS_TELEMETRY": "false"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=170, cwd=tmp, env=env)


@pytest.mark.timeout(200)
@pytest.mark.parametrize("who", ["admin", "node"])
def test_schemathesis_finds_nothing(live: Server, who: str, tmp_path: Path) -> None:
    if who == "admin":
        credential = live.admin
    else:
        body = node_body(1, prefix=f"st-{who}")
        with live.client(live.bootstrap) as boot:
            assert boot.post("/v1/nodes", json=body).status_code in (200, 201)
        credential = body["secret"]
    done = _run(live, credential, tmp_path)
    tail = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, tail
    summary = done.stdout[done.stdout.rindex("SUMMARY") :]
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in summary, summary
    assert "generated," in summary and " passed" in summary and "failure" not in summary, summary


def _flatten(routes: Iterable[BaseRoute]) -> Iterator[Route]:
    """Every endpoint route, also those inside included routers (FastAPI wraps them)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _flatten(inner.routes)
        elif isinstance(route, Route):
            yield route


def test_every_served_route_is_documented(live: Server, tmp_path: Path) -> None:
    """The routes of the app (as built by create_app) against the live server's OpenAPI document."""
    document = httpx.get(f"{live.url}/openapi.json", timeout=10).json()
    documented = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    app = create_app(Settings(state_dir=tmp_path, route_backend="none"), background=False)
    served = {
        (route.path_format, method)  # `{cidr:path}` is documented as `{cidr}`
        for route in _flatten(app.routes)
        if route.path not in DOC_ROUTES
        for method in (route.methods or ()) - {"HEAD"}
    }
    assert served and served - documented == set()
    assert {("/v1/tokens", "POST"), ("/v1/nodes", "POST"), ("/healthz", "GET")} <= served
