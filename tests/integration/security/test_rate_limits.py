"""Rate limits on a real controller: per credential (429, `Retry-After`, problem+json, other credentials unaffected)
and per client address for failed authentication; probes are never limited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import fresh_db
from tests.integration.support import Databases, Server, node_body, running


@pytest.fixture(scope="module")
def limited(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "HUBNET_RATE_LIMIT_PER_SECOND": "0.5",
        "HUBNET_RATE_LIMIT_BURST": "5",
        "HUBNET_RATE_LIMIT_AUTH_FAILURES_PER_SECOND": "0.2",
        "HUBNET_RATE_LIMIT_AUTH_FAILURES_BURST": "4",
    }
    server = Server(fresh_db(databases, "sqlite"), Path(tmp_path_factory.mktemp("limited")), extra_env=env)
    with running(server) as srv:
        yield srv


def _assert_throttled(answer: object) -> None:
    import httpx

    assert isinstance(answer, httpx.Response)
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert int(answer.headers["retry-after"]) >= 1
    body = answer.json()
    assert body["type"] == "urn:hubnet:problem:rate-limited" and body["status"] == 429


def test_one_credential_is_throttled_others_are_not(limited: Server) -> None:
    body = node_body(1, prefix="rl")
    with limited.client(limited.bootstrap) as boot:
        assert boot.post("/v1/nodes", json=body).status_code == 201
        codes = [boot.post("/v1/nodes", json=body).status_code for _ in range(4)]
        assert codes == [200] * 4  # burst of 5 spent
        _assert_throttled(boot.post("/v1/nodes", json=body))
    with limited.client(body["secret"]) as node:  # another credential has its own bucket
        assert node.post(f"/v1/nodes/{body['name']}/heartbeat").status_code == 200
    with limited.client() as anyone:
        assert [anyone.get(p).status_code for p in ("/healthz", "/readyz", "/metrics")] == [200, 200, 200]


def test_failed_authentication_is_limited_per_client(limited: Server) -> None:
    """Guessing from one address locks it out — but not the clients behind that address (NAT, a load balancer)
    whose credentials recently worked: one bad client must not cut every node's heartbeats off."""
    admin = {"Authorization": f"Bearer {limited.admin}"}
    with limited.client() as anyone:
        assert anyone.get("/v1/nodes", headers=admin).status_code == 200
        codes = [anyone.get("/v1/nodes", headers={"Authorization": f"Bearer guess-{i}"}).status_code for i in range(4)]
        assert codes == [401] * 4
        _assert_throttled(anyone.get("/v1/nodes", headers={"Authorization": "Bearer guess-5"}))
        _assert_throttled(anyone.get("/v1/nodes"))
        assert anyone.get("/healthz").status_code == 200
        assert anyone.get("/v1/nodes", headers=admin).status_code == 200  # worked before: still served
