"""A deleted node's route still installed — the reconciler stalled — holds its subnet (issue 17 item 6).

A controller with the kernel backend programs node X's route into a real router namespace. Then the only controller
left runs a reconciler that applies nothing (`HUBNET_ROUTE_DRY_RUN`: it plans and reports, so the route stays): X is
deleted, and registrations arrive while X's subnet is the only one free. None may get it: the router still sends
that subnet's traffic to X. Once a working reconciler has removed the route (X says `withdrawn`), the subnet goes
back into the quarantine order: a never-used subnet first, X's only when nothing else is free. SQLite and
PostgreSQL.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from tests.chaos.support import Fleet, address, kernel_server, owned_routes, router_netns, wait_for
from tests.integration.support import Server, new_secret, sql
from tests.support.prereq import need_root_netns

pytestmark = pytest.mark.netns

POOL = "10.250.0.0/22"  # four /24s: three nodes that stay, and X
REGISTRATIONS = 100


def _controller(db_url: str, log_dir: Path, ns: str, like: Server | None = None, **env: str) -> Server:
    server = kernel_server(db_url, log_dir, ns, HUBNET_CLUSTER_CIDR=POOL, **env)
    if like is not None:
        server.admin, server.bootstrap = like.admin, like.bootstrap
    return server


def _route_state(server: Server, name: str) -> str:
    return str(sql(server.db_url, "SELECT route_state FROM nodes WHERE name = :n", {"n": name})[0][0])


def test_a_deleted_nodes_subnet_waits_for_its_route_to_go(db_url: str, tmp_path: Path) -> None:
    need_root_netns()
    with router_netns() as ns:
        first = _controller(db_url, tmp_path, ns)
        first.start()
        fleet = Fleet(first)
        try:
            fleet.register([(f"perm-{i}", address(i)) for i in range(3)] + [("x", address(9))])
            x_route = (fleet.subnets["x"], fleet.addresses["x"])
            wait_for(lambda: x_route in owned_routes(ns) and _route_state(first, "x") == "programmed", 10, what="x")
        finally:
            first.stop()

        stalled = _controller(db_url, tmp_path, ns, like=first, HUBNET_ROUTE_DRY_RUN="true")
        stalled.start()
        answers: Counter[str] = Counter()
        try:
            with stalled.client(stalled.admin) as admin, stalled.client(stalled.bootstrap) as boot:
                assert admin.delete("/v1/nodes/x").status_code == 204
                assert admin.get("/v1/nodes/x").json()["route_state"] == "withdrawing"
                started = time.monotonic()
                for i in range(REGISTRATIONS):
                    answer = boot.post("/v1/nodes", json={"name": f"new-{i}", "address": address(100 + i),
                                                          "secret": new_secret()})  # fmt: skip
                    kind = answer.json().get("type", "").rsplit(":", 1)[-1] or answer.json()["subnet"]
                    answers[kind] += 1
                    assert answer.json().get("subnet") != x_route[0], f"registration {i} got X's subnet"
                held_for = time.monotonic() - started
            assert answers == {"pool-exhausted": REGISTRATIONS}, answers
            assert x_route in owned_routes(ns)  # the reason: the router still routes X's subnet to X
        finally:
            stalled.stop()

        working = _controller(db_url, tmp_path, ns, like=first)
        working.start()
        try:
            wait_for(lambda: x_route not in owned_routes(ns), 10, what="X's route removed")
            wait_for(lambda: _route_state(working, "x") == "withdrawn", 10, what="X withdrawn")
            with working.client(working.admin) as admin, working.client(working.bootstrap) as boot:
                assert "route.withdrawn" in [e["type"] for e in admin.get("/v1/events").json()["items"]]
                assert admin.post("/v1/pools", json={"cidr": "10.251.0.0/24", "node_prefix": 24}).status_code == 201
                fresh = boot.post(
                    "/v1/nodes", json={"name": "after-1", "address": address(250), "secret": new_secret()}
                )
                last = boot.post("/v1/nodes", json={"name": "after-2", "address": address(251), "secret": new_secret()})
            assert fresh.json()["subnet"] == "10.251.0.0/24", fresh.text  # never used beats quarantined
            assert last.status_code == 201 and last.json()["subnet"] == x_route[0], last.text  # nothing else left
            wait_for(lambda: (x_route[0], address(251)) in owned_routes(ns), 10, what="the new holder's route")
        finally:
            working.stop()
    print(
        f"withdrawal hold: {REGISTRATIONS} registrations in {held_for:.1f} s while X's route stayed: "
        f"{dict(answers)}, 0 got X's subnet; after the withdrawal a fresh subnet first, then X's"
    )
