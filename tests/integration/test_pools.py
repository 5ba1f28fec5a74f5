"""Pools a new user can get wrong (issue 18 item 1): unusable ranges and the underlay are refused with 4xx naming
`cidr` and nothing stored; a pool typed by mistake can be deleted, but never while a live node holds a subnet of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import fresh_db
from tests.integration.support import Databases, Server, node_body, run_hubnet, running, sql

UNUSABLE = ["127.0.0.0/16", "224.0.0.0/16", "169.254.0.0/16", "0.0.0.0/16", "255.255.0.0/16", "0.0.0.0/0"]


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:hubnet:problem:{slug}", body
    assert "cidr" in [e["field"] for e in body["errors"]], body
    return body


def _pools_and_revision(admin: httpx.Client) -> tuple[list[str], int]:
    cidrs = [p["cidr"] for p in admin.get("/v1/pools").json()["items"]]
    return cidrs, admin.get("/v1/events", params={"since": 0}).json()["revision"]


@pytest.fixture
def small(databases: Databases, db_kind: str, tmp_path: Path) -> Any:
    """A controller whose configured pool holds two /24s, so the third node lands in a pool added at run time."""
    env = {"HUBNET_CLUSTER_CIDR": "10.244.0.0/23", "HUBNET_POOL_WARN_FREE": "0"}
    with running(Server(fresh_db(databases, db_kind), tmp_path, extra_env=env)) as server:
        yield server


def test_unusable_ranges_and_the_underlay_are_refused(small: Server) -> None:
    with small.client(small.bootstrap) as boot, small.client(small.admin) as admin:
        node = node_body(1, prefix="pl")
        assert boot.post("/v1/nodes", json=node).status_code == 201
        before = _pools_and_revision(admin)
        for cidr in UNUSABLE:
            body = _problem(admin.post("/v1/pools", json={"cidr": cidr}), 422, "invalid-input")
            assert cidr in body["detail"]
        # the router's address (HUBNET_ROUTER_ADDRESS of the test server) and a registered node's address
        _problem(admin.post("/v1/pools", json={"cidr": "192.168.255.0/24"}), 422, "invalid-input")
        holder = str(node["address"]).rsplit(".", 1)[0] + ".0/24"
        body = _problem(admin.post("/v1/pools", json={"cidr": holder}), 409, "pool-holds-nodes")
        assert node["address"] in body["detail"]
        truthy = admin.post("/v1/pools", json={"cidr": "10.250.0.0/16", "node_prefix": True})
        assert truthy.status_code == 422
        assert _pools_and_revision(admin) == before  # nothing stored, no event


def test_delete_a_pool_only_when_no_live_node_holds_a_subnet_of_it(small: Server) -> None:
    bodies = [node_body(i, prefix="pd") for i in range(3)]
    with small.client(small.bootstrap) as boot, small.client(small.admin) as admin:
        _problem(admin.delete("/v1/pools/10.99.0.0/16"), 404, "not-found")
        _problem(admin.delete("/v1/pools/10.244.0.0/23"), 409, "pool-in-use")  # the configured cluster CIDR
        assert [boot.post("/v1/nodes", json=b).status_code for b in bodies[:2]] == [201, 201]
        assert admin.post("/v1/pools", json={"cidr": "10.250.0.0/16"}).status_code == 201
        third = boot.post("/v1/nodes", json=bodies[2]).json()
        assert third["subnet"] == "10.250.0.0/24"

        body = _problem(admin.delete("/v1/pools/10.250.0.0/16"), 409, "pool-in-use")
        assert body["live_nodes"] == 1
        assert admin.delete(f"/v1/nodes/{bodies[2]['name']}").status_code == 204
        released = admin.get(f"/v1/nodes/{bodies[2]['name']}").json()
        assert (released["state"], released["route_state"]) == ("released", "withdrawn")  # issue 18 item 9

        assert admin.delete("/v1/pools/10.250.0.0/16").status_code == 204
        assert [p["cidr"] for p in admin.get("/v1/pools").json()["items"]] == ["10.244.0.0/23"]
        events = admin.get("/v1/events", params={"since": 0}).json()["items"]
        assert events[-1]["type"] == "pool.deleted" and events[-1]["data"]["cidr"] == "10.250.0.0/16"
        # its released node cannot come back onto a subnet of a pool that is gone: refused, never moved silently
        back = boot.post("/v1/nodes", json=bodies[2])
        assert back.status_code == 409 and back.json()["type"] == "urn:hubnet:problem:subnet-reissued"
        assert "pool was deleted" in back.json()["detail"]
        _problem(admin.delete("/v1/pools/10.250.0.0/16"), 404, "not-found")


def test_cli_pools_add_list_delete_and_json_output(small: Server) -> None:
    env = {"HUBNET_URL": small.url, "HUBNET_TOKEN": small.admin}
    added = run_hubnet(["pools", "add", "10.251.0.0/16", "--output", "json"], env)
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["cidr"] == "10.251.0.0/16"
    refused = run_hubnet(["pools", "add", "127.0.0.0/16"], env)
    assert refused.returncode == 1 and "loopback" in refused.stderr and "Traceback" not in refused.stderr
    listed = run_hubnet(["pools", "--output", "json"], env)
    assert [p["cidr"] for p in json.loads(listed.stdout)["items"]] == ["10.244.0.0/23", "10.251.0.0/16"]
    deleted = run_hubnet(["pools", "delete", "10.251.0.0/16", "-o", "json"], env)
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(deleted.stdout) == {"deleted": "pool", "cidr": "10.251.0.0/16"}
    assert "10.251.0.0/16" not in run_hubnet(["pools"], env).stdout

    node = node_body(5, prefix="cl")
    with small.client(small.bootstrap) as boot:
        assert boot.post("/v1/nodes", json=node).status_code == 201
    gone = run_hubnet(["nodes", "delete", node["name"], "--output", "json"], env)
    assert json.loads(gone.stdout) == {"deleted": "node", "name": node["name"]}


def test_cli_pools_warns_when_a_pool_is_exhausted(small: Server) -> None:
    env = {"HUBNET_URL": small.url, "HUBNET_TOKEN": small.admin}
    with small.client(small.bootstrap) as boot:
        for i in range(2):
            assert boot.post("/v1/nodes", json=node_body(i, prefix="wx")).status_code == 201
    listed = run_hubnet(["pools"], env)
    assert listed.returncode == 0
    assert "warning: pool 10.244.0.0/23: 0 of 2 subnets free (warning below 0%)" in listed.stderr


def test_a_live_row_pointing_at_the_pool_keeps_it_even_with_its_subnet_moved_out(small: Server) -> None:
    """A flagged row (its subnet edited by hand out of the pool) still references the pool: 409 naming it, never
    the foreign-key failure a delete would hit (which surfaced as a retryable `concurrent-change`)."""
    bodies = [node_body(i, prefix="pf") for i in range(3)]
    with small.client(small.bootstrap) as boot, small.client(small.admin) as admin:
        assert [boot.post("/v1/nodes", json=b).status_code for b in bodies[:2]] == [201, 201]
        assert admin.post("/v1/pools", json={"cidr": "10.250.0.0/16"}).status_code == 201
        assert boot.post("/v1/nodes", json=bodies[2]).json()["subnet"] == "10.250.0.0/24"
        sql(small.db_url, "UPDATE nodes SET subnet = '10.99.0.0/24' WHERE name = :n", {"n": bodies[2]["name"]})
        body = _problem(admin.delete("/v1/pools/10.250.0.0/16"), 409, "pool-in-use")
        assert body["live_nodes"] == 1
        assert "10.250.0.0/16" in [p["cidr"] for p in admin.get("/v1/pools").json()["items"]]


DUAL_ENV = {
    "HUBNET_CLUSTER_CIDR": "10.244.0.0/23,fd00:10:244::/56",
    "HUBNET_ROUTER_ADDRESS": "192.168.255.254,fd00:ff::fe",
    "HUBNET_SERVICE_CIDR": "10.96.0.0/12,fd00:10:96::/112",
    "HUBNET_POOL_WARN_FREE": "0",
}


@pytest.fixture
def dual(databases: Databases, db_kind: str, tmp_path: Path) -> Any:
    """A dual-stack controller: an IPv4 pool of two /24s and an IPv6 /56 of 256 /64s."""
    with running(Server(fresh_db(databases, db_kind), tmp_path, extra_env=DUAL_ENV)) as server:
        yield server


def _dual_body(i: int, prefix: str) -> dict[str, Any]:
    body = node_body(i, prefix=prefix)
    return {**body, "addresses": [body["address"], f"fd00:1::{i + 1:x}"]}


def test_ipv6_pools_are_added_listed_and_deleted(dual: Server) -> None:
    with dual.client(dual.admin) as admin:
        items = admin.get("/v1/pools").json()["items"]
        assert [(p["cidr"], p["family"], p["node_prefix"], p["total"]) for p in items] == [
            ("10.244.0.0/23", 4, 24, 2),
            ("fd00:10:244::/56", 6, 64, 256),
        ]
        added = admin.post("/v1/pools", json={"cidr": "fd00:10:250::/56"})
        assert added.status_code == 201, added.text
        assert {k: added.json()[k] for k in ("cidr", "family", "node_prefix", "total", "free")} == {
            "cidr": "fd00:10:250::/56",
            "family": 6,
            "node_prefix": 64,
            "total": 256,
            "free": 256,
        }
        assert admin.post("/v1/pools", json={"cidr": "fd00:10:251::/60", "node_prefix": 72}).json()["total"] == 4096
        before = _pools_and_revision(admin)
        _problem(admin.post("/v1/pools", json={"cidr": "fd00:10:244::/48"}), 409, "pool-overlaps")
        _problem(admin.post("/v1/pools", json={"cidr": "fe80::/56"}), 422, "invalid-input")
        _problem(admin.post("/v1/pools", json={"cidr": "fd00:ff::/56"}), 422, "invalid-input")  # holds the router
        too_many = admin.post("/v1/pools", json={"cidr": "fd00:20::/40"})  # /64s: 2**24 node subnets
        assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "node_prefix", too_many.text
        assert _pools_and_revision(admin) == before  # nothing stored, no event

        assert admin.delete("/v1/pools/fd00:10:250::/56").status_code == 204
        assert admin.delete("/v1/pools/fd00:10:251::/60").status_code == 204
        _problem(admin.delete("/v1/pools/fd00:10:250::/56"), 404, "not-found")
        _problem(admin.delete("/v1/pools/fd00:10:244::/56"), 409, "pool-in-use")  # the configured IPv6 pool
        assert [p["cidr"] for p in admin.get("/v1/pools").json()["items"]] == ["10.244.0.0/23", "fd00:10:244::/56"]
        kinds = [
            (e["type"], e["data"].get("cidr")) for e in admin.get("/v1/events", params={"since": 0}).json()["items"]
        ]
        assert ("pool.deleted", "fd00:10:250::/56") in kinds


def test_an_ipv6_pool_is_kept_while_a_live_node_holds_a_subnet_of_it(dual: Server) -> None:
    with dual.client(dual.bootstrap) as boot, dual.client(dual.admin) as admin:
        assert admin.post("/v1/pools", json={"cidr": "fd00:10:250::/120", "node_prefix": 124}).status_code == 201
        # the configured /56 is handed out first; fill it by hand so the next node lands in the added pool
        node = boot.post("/v1/nodes", json=_dual_body(1, "p6"))
        assert node.status_code == 201, node.text
        assert node.json()["subnets"][1] == "fd00:10:244::/64"
        sql(dual.db_url, "UPDATE pools SET high_water = 256 WHERE cidr = 'fd00:10:244::/56'")
        second = boot.post("/v1/nodes", json=_dual_body(2, "p6")).json()
        assert second["subnets"][1] == "fd00:10:250::/124", second
        body = _problem(admin.delete("/v1/pools/fd00:10:250::/120"), 409, "pool-in-use")
        assert body["live_nodes"] == 1
        usage = {p["cidr"]: p for p in admin.get("/v1/pools").json()["items"]}
        assert (usage["fd00:10:250::/120"]["allocated"], usage["fd00:10:244::/56"]["allocated"]) == (1, 1)
        assert admin.delete(f"/v1/nodes/{second['name']}").status_code == 204
        assert admin.delete("/v1/pools/fd00:10:250::/120").status_code == 204


def test_lookup_answers_ipv6_addresses(dual: Server) -> None:
    with dual.client(dual.bootstrap) as boot, dual.client(dual.admin) as admin:
        first = boot.post("/v1/nodes", json=_dual_body(1, "lk")).json()
        second = boot.post("/v1/nodes", json=_dual_body(2, "lk")).json()
        assert second["subnets"][1] == "fd00:10:244:1::/64", second
        found = admin.get("/v1/lookup", params={"ip": "fd00:10:244:1::2a"})
        assert found.status_code == 200, found.text
        assert (found.json()["name"], found.json()["subnets"]) == (second["name"], second["subnets"])
        assert admin.get("/v1/lookup", params={"ip": "fd00:10:244::7"}).json()["name"] == first["name"]
        assert admin.get("/v1/lookup", params={"ip": "10.244.1.7"}).json()["name"] == second["name"]
        assert admin.get("/v1/lookup", params={"ip": "fd00:10:244:2::1"}).status_code == 404
        assert admin.get("/v1/lookup", params={"ip": "fd00:10:244::1%eth0"}).status_code == 422

        env = {"HUBNET_URL": dual.url, "HUBNET_TOKEN": dual.admin}
        looked = run_hubnet(["lookup", "fd00:10:244:1::2a", "-o", "json"], env)
        assert looked.returncode == 0, looked.stderr
        assert json.loads(looked.stdout)["addresses"] == second["addresses"]
        table = run_hubnet(["nodes", "list"], env).stdout
        assert "fd00:10:244:1::/64" in table and "10.244.1.0/24" in table and "fd00:1::3" in table


def test_metrics_and_the_cli_show_both_families(dual: Server) -> None:
    env = {"HUBNET_URL": dual.url, "HUBNET_TOKEN": dual.admin}
    added = run_hubnet(["pools", "add", "fd00:10:250::/56", "-o", "json"], env)
    assert added.returncode == 0, added.stderr
    assert (json.loads(added.stdout)["node_prefix"], json.loads(added.stdout)["family"]) == (64, 6)
    listed = json.loads(run_hubnet(["pools", "-o", "json"], env).stdout)["items"]
    assert [(p["cidr"], p["family"]) for p in listed] == [
        ("10.244.0.0/23", 4),
        ("fd00:10:244::/56", 6),
        ("fd00:10:250::/56", 6),
    ]
    with dual.client(dual.bootstrap) as boot:
        assert boot.post("/v1/nodes", json=_dual_body(1, "mx")).status_code == 201
        metrics = boot.get("/metrics").text
    assert 'hubnet_subnets_allocated{pool="fd00:10:244::/56"} 1.0' in metrics
    assert 'hubnet_subnets_free{pool="fd00:10:250::/56"} 256.0' in metrics
    assert 'hubnet_pool_info{family="6",node_prefix="64",pool="fd00:10:244::/56"} 1.0' in metrics
    assert 'hubnet_pool_info{family="4",node_prefix="24",pool="10.244.0.0/23"} 1.0' in metrics
    deleted = run_hubnet(["pools", "delete", "fd00:10:250::/56", "-o", "json"], env)
    assert json.loads(deleted.stdout) == {"deleted": "pool", "cidr": "fd00:10:250::/56"}


def test_an_ipv4_cluster_restarted_dual_stack_gets_its_ipv6_pool(databases: Databases, tmp_path: Path) -> None:
    server = Server(fresh_db(databases, "sqlite"), tmp_path)
    with running(server), server.client(server.bootstrap) as boot:
        old = boot.post("/v1/nodes", json=node_body(1, prefix="up")).json()
    server.extra_env = {**DUAL_ENV, "HUBNET_CLUSTER_CIDR": "10.244.0.0/16,fd00:10:244::/56"}
    with running(server), server.client(server.admin) as admin:
        assert [(p["cidr"], p["family"]) for p in admin.get("/v1/pools").json()["items"]] == [
            ("10.244.0.0/16", 4),
            ("fd00:10:244::/56", 6),
        ]
        kept = admin.get(f"/v1/nodes/{old['name']}").json()
        assert (kept["subnet"], kept["subnets"], kept["flags"]) == (old["subnet"], [old["subnet"]], [])
        assert admin.get("/readyz").json()["status"] == "ready"
    server.extra_env = DUAL_ENV  # 10.244.0.0/23 now: it overlaps the stored /16, so it is not added
    with running(server), server.client(server.admin) as admin:
        ready = admin.get("/readyz").json()
        assert ready["status"] == "degraded", ready
        assert any("HUBNET_CLUSTER_CIDR 10.244.0.0/23 is not a pool" in w for w in ready["warnings"]), ready


def test_ipv6_rows_outside_the_pools_are_flagged_and_checked(dual: Server) -> None:
    env = {"HUBNET_URL": dual.url, "HUBNET_TOKEN": dual.admin}
    with dual.client(dual.bootstrap) as boot, dual.client(dual.admin) as admin:
        good = boot.post("/v1/nodes", json=_dual_body(1, "fx")).json()
        moved = boot.post("/v1/nodes", json=_dual_body(2, "fx")).json()
        sql(dual.db_url, "UPDATE nodes SET subnet6 = 'fd00:99::/64' WHERE name = :n", {"n": moved["name"]})
        flagged = admin.get("/v1/pools").json()["flagged"]
        assert [(f["name"], f["flags"], f["subnets"]) for f in flagged] == [
            (moved["name"], ["subnet6-outside-pools"], [moved["subnet"], "fd00:99::/64"])
        ]
        shown = admin.get(f"/v1/nodes/{moved['name']}").json()
        assert (shown["flags"], shown["gateways"]) == (["subnet6-outside-pools"], [moved["gateway"], "fd00:99::1"])
        assert admin.get(f"/v1/nodes/{good['name']}").json()["flags"] == []
    checked = run_hubnet(["check", "-o", "json"], env)
    assert checked.returncode == 2, checked.stderr
    report = json.loads(checked.stdout)
    assert [(p["kind"], p["node"], p["subject"]) for p in report["problems"]] == [
        ("subnet-outside-pools", moved["name"], "fd00:99::/64")
    ]
    assert report["checked"] == {"nodes": 2, "routes": None, "bridges": 0}
