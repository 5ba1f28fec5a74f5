"""Lease lifecycle through the real server (short TTLs), route reconciler wiring (fake backend), metrics, docs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import fresh_db
from tests.integration.support import Databases, Server, node_body, running


def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture
def short_leases(databases: Databases, db_kind: str, tmp_path: Path) -> Iterator[Server]:
    env = {
        "HUBNET_LEASE_TTL_SECONDS": "1",
        "HUBNET_RELEASE_GRACE_SECONDS": "3",
        "HUBNET_REAPER_INTERVAL_SECONDS": "0.2",
    }
    with running(Server(fresh_db(databases, db_kind), tmp_path, extra_env=env)) as server:
        yield server


def test_lease_goes_stale_keeps_route_renews_and_releases(short_leases: Server) -> None:
    server = short_leases
    body = node_body(1, prefix="lease")
    name, auth = body["name"], {"Authorization": f"Bearer {body['secret']}"}
    with server.client(server.bootstrap) as boot, server.client(server.admin) as admin:
        first = boot.post("/v1/nodes", json=body).json()

        def state() -> str:
            return str(admin.get(f"/v1/nodes/{name}").json()["state"])

        wait_for(lambda: state() == "stale")
        desired = admin.get("/v1/routes").json()["desired"]
        assert {"prefix": first["subnet"], "next_hop": body["address"], "node": name} in desired  # route kept
        assert boot.post(f"/v1/nodes/{name}/heartbeat", headers=auth).json()["state"] == "active"

        wait_for(lambda: state() == "released")
        assert admin.get(f"/v1/nodes/{name}").json()["route_state"] == "withdrawn"  # released by the reaper
        assert name not in [d["node"] for d in admin.get("/v1/routes").json()["desired"]]
        refused = boot.post(f"/v1/nodes/{name}/heartbeat", headers=auth)
        assert refused.status_code == 409 and refused.json()["type"] == "urn:hubnet:problem:lease-released"
        back = boot.post("/v1/nodes", json=body).json()
        assert (back["subnet"], back["generation"], back["state"]) == (first["subnet"], 2, "active")

        kinds = [e["type"] for e in admin.get("/v1/events").json()["items"] if e["node"] == name]
        assert kinds[:5] == ["node.registered", "node.stale", "node.renewed", "node.stale", "node.released"]
        assert kinds[5] == "node.registered"


def test_outage_longer_than_grace_does_not_release_everyone(short_leases: Server) -> None:
    """Nodes cannot heartbeat to a stopped controller: the lease clock stops while no controller runs (the
    restart shifts the lease by the outage less one reaper interval), so the node keeps what was left of its lease
    less at most one interval. With a 1 s TTL that may make it stale by the time we look (route kept), but never
    released: release needs the 3 s grace of controller up-time on top, and its next heartbeat renews it."""
    server = short_leases
    body = node_body(1, prefix="outage")
    with server.client(server.bootstrap) as boot:
        assert boot.post("/v1/nodes", json=body).status_code == 201
    server.stop()
    time.sleep(4.5)  # > TTL (1 s) + grace (3 s)
    server.start()
    with server.client(server.admin) as admin:
        assert admin.get(f"/v1/nodes/{body['name']}").json()["state"] in ("active", "stale")
        auth = {"Authorization": f"Bearer {body['secret']}"}
        assert admin.post(f"/v1/nodes/{body['name']}/heartbeat", headers=auth).json()["state"] == "active"


def test_reconciler_programs_routes_and_reports_state(databases: Databases, tmp_path: Path) -> None:
    env = {"HUBNET_ROUTE_BACKEND": "fake", "HUBNET_RECONCILE_INTERVAL": "30"}
    server = Server(fresh_db(databases, "sqlite"), tmp_path, extra_env=env)
    body = node_body(1, prefix="route")
    with running(server), server.client(server.bootstrap) as boot, server.client(server.admin) as admin:
        node = boot.post("/v1/nodes", json=body).json()
        assert node["route_state"] == "pending"
        wait_for(lambda: admin.get(f"/v1/nodes/{body['name']}").json()["route_state"] == "programmed")
        report = admin.get("/v1/routes").json()
        route = {"prefix": node["subnet"], "next_hop": body["address"]}
        assert [{k: r[k] for k in route} for r in report["actual"]] == [route]
        assert report["missing"] == [] and report["unexpected"] == []
        events = admin.get("/v1/events").json()["items"]
        assert ("route.programmed", body["name"]) in [(e["type"], e["node"]) for e in events]
        admin.delete(f"/v1/nodes/{body['name']}")
        wait_for(lambda: admin.get("/v1/routes").json()["actual"] == [])


def test_metrics_and_docs(server: Server) -> None:
    with server.client(server.bootstrap) as boot:
        assert boot.post("/v1/nodes", json=node_body(1, prefix="metrics")).status_code == 201
    text = httpx.get(f"{server.url}/metrics").text
    for line in (
        'hubnet_subnets_total{pool="10.244.0.0/16"} 256.0',
        'hubnet_nodes{state="active"}',
        "hubnet_allocations_total",
        "hubnet_releases_total",
        "hubnet_registration_seconds_count",
    ):
        assert line in text, line
    allocated = [ln for ln in text.splitlines() if ln.startswith('hubnet_subnets_allocated{pool="10.244.0.0/16"}')]
    free = [ln for ln in text.splitlines() if ln.startswith('hubnet_subnets_free{pool="10.244.0.0/16"}')]
    assert float(allocated[0].split()[-1]) + float(free[0].split()[-1]) == 256
    assert httpx.get(f"{server.url}/docs").status_code == 200
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert {"/v1/nodes", "/v1/nodes/{name}", "/v1/nodes/{name}/heartbeat", "/v1/pools", "/v1/events"} <= set(paths)
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
