"""A node admin-deleted while it was away comes back with its old state (name, secret, address) — at the same
moment as a new node asks for a subnet, in a pool with exactly one free subnet: its old one. Whoever wins, 0 cases
of two live nodes on one subnet: either the returning node gets its subnet back (generation + 1) and the newcomer
is told the pool is exhausted, or the newcomer gets it and the returning node is refused with 409
`subnet-reissued` naming the subnet. HUBNET_CHAOS_RETURN_RUNS rounds (default 20) on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import httpx

from tests.chaos.support import address, env_int
from tests.integration.support import Server, new_secret, sql

RUNS = env_int("HUBNET_CHAOS_RETURN_RUNS", 20)
POOL = "10.250.0.0/22"  # four /24 subnets: three permanent nodes and the contested one


def _live_subnets(server: Server) -> list[str]:
    return [str(s) for (s,) in sql(server.db_url, "SELECT subnet FROM nodes WHERE state <> 'released'")]


def _race(server: Server, away: dict[str, str], newcomer: dict[str, str]) -> tuple[httpx.Response, httpx.Response]:
    barrier = threading.Barrier(2)
    answers: dict[str, httpx.Response] = {}

    def post(key: str, body: dict[str, str]) -> None:
        with server.client(server.bootstrap) as c:
            barrier.wait()
            answers[key] = c.post("/v1/nodes", json=body)

    threads = [threading.Thread(target=post, args=item) for item in (("away", away), ("new", newcomer))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return answers["away"], answers["new"]


def test_returning_node_never_shares_its_old_subnet(db_url: str, tmp_path: Path) -> None:
    server = Server(db_url, tmp_path, extra_env={"HUBNET_CLUSTER_CIDR": POOL})
    server.start()
    outcomes: Counter[str] = Counter()
    try:
        with server.client(server.bootstrap) as boot, server.client(server.admin) as admin:
            for i in range(3):
                body = {"name": f"perm-{i}", "address": address(i), "secret": new_secret()}
                assert boot.post("/v1/nodes", json=body).status_code == 201
            for run in range(RUNS):
                away = {"name": f"away-{run}", "address": address(100 + run), "secret": new_secret()}
                first = boot.post("/v1/nodes", json=away)
                assert first.status_code == 201, first.text
                subnet, generation = first.json()["subnet"], first.json()["generation"]
                assert admin.delete(f"/v1/nodes/{away['name']}").status_code == 204
                newcomer = {"name": f"new-{run}", "address": address(200 + run), "secret": new_secret()}
                back, new = _race(server, away, newcomer)
                live = _live_subnets(server)
                assert len(live) == len(set(live)) == 4, f"run {run}: two live nodes on one subnet: {live}"
                if back.status_code in (200, 201):  # the returning node won: its own subnet, next generation
                    assert (back.json()["subnet"], back.json()["generation"]) == (subnet, generation + 1)
                    assert new.json()["type"].endswith("pool-exhausted"), new.text
                    outcomes["returned"] += 1
                    holder = away["name"]
                else:  # the newcomer got it: the returning node is refused, told which subnet it lost
                    assert back.status_code == 409 and back.json()["type"].endswith("subnet-reissued"), back.text
                    assert back.json()["subnet"] == subnet and new.json()["subnet"] == subnet, (back.text, new.text)
                    outcomes["refused"] += 1
                    holder = newcomer["name"]
                    # the admin removes the stale record (released + re-issued -> deleted); the name is free again
                    assert admin.delete(f"/v1/nodes/{away['name']}").status_code == 204
                    assert admin.get(f"/v1/nodes/{away['name']}").status_code == 404
                assert admin.delete(f"/v1/nodes/{holder}").status_code == 204  # the subnet is free for the next run
        assert sum(outcomes.values()) == RUNS
        print(f"return-after-delete: {RUNS} runs, {dict(outcomes)}, two nodes on one subnet: 0")
    finally:
        server.stop()
