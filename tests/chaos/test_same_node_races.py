"""One node racing itself, with a real router namespace programmed by the kernel backend (issue 17 items 4, 5).

- Storm: one node registers 50 times at once, spread over two controller processes on one database (the one with
  the route backend and one without, as docs/configuration.md asks of several processes): exactly one row, one
  subnet (50/50 answers carry it, with one generation), one `node.registered` event, one route on the router.
- DELETE against POST: the same node deleted and re-registered at the same moment, HUBNET_CHAOS_RACE_ROUNDS rounds
  (default 100): after every round the node holds at most one subnet, nobody else holds it, and the router has
  exactly its route when the node is live and no route for the subnet when it is released.
SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.chaos.support import address, env_int, kernel_server, owned_routes, router_netns, wait_for
from tests.integration.support import Server, new_secret, sql
from tests.support.prereq import need_root_netns

pytestmark = pytest.mark.netns

ROUNDS = env_int("HUBNET_CHAOS_RACE_ROUNDS", 100)
STORM = 50


@pytest.fixture
def router() -> Iterator[str]:
    need_root_netns()
    with router_netns() as ns:
        yield ns


def _rows(server: Server, name: str) -> list[tuple[str, str, str | None, int]]:
    query = "SELECT state, route_state, subnet, generation FROM nodes WHERE name = :n"
    return [
        (str(a), str(b), None if c is None else str(c), int(d)) for a, b, c, d in sql(server.db_url, query, {"n": name})
    ]


def _together(calls: list[Callable[[], httpx.Response]], delays: list[float] | None = None) -> list[httpx.Response]:
    """Run the calls at the same moment (a barrier releases them together), each after its delay (seconds)."""
    barrier = threading.Barrier(len(calls))
    waits = delays or [0.0] * len(calls)

    def run(item: tuple[Callable[[], httpx.Response], float]) -> httpx.Response:
        barrier.wait(timeout=30)
        time.sleep(item[1])
        return item[0]()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, zip(calls, waits, strict=True)))


def test_one_node_registering_50_times_over_two_controllers(db_url: str, router: str, tmp_path: Path) -> None:
    routed = kernel_server(db_url, tmp_path, router)
    plain = Server(db_url, tmp_path, admin=routed.admin, bootstrap=routed.bootstrap)  # HUBNET_ROUTE_BACKEND=none
    body = {"name": "storm", "address": address(7), "secret": new_secret()}
    routed.start()
    plain.start()
    try:
        clients = [s.client(s.bootstrap) for s in (routed, plain)]
        answers = _together([lambda c=clients[i % 2]: c.post("/v1/nodes", json=body) for i in range(STORM)])
        for client in clients:
            client.close()
        assert Counter(a.status_code for a in answers) == {201: 1, 200: STORM - 1}, [a.text for a in answers[:3]]
        subnets = {(a.json()["subnet"], a.json()["generation"]) for a in answers}
        assert len(subnets) == 1, subnets
        ((subnet, _),) = subnets
        assert _rows(routed, "storm") == [("active", _rows(routed, "storm")[0][1], subnet, 1)]
        registered = sql(db_url, "SELECT count(*) FROM events WHERE type = 'node.registered' AND node = 'storm'")
        assert registered == [(1,)]
        wait_for(lambda: owned_routes(router) == {(subnet, body["address"])}, 10, what="the node's one route")
        time.sleep(1.5)  # a reconcile period later: still exactly one
        assert owned_routes(router) == {(subnet, body["address"])}
    finally:
        plain.stop()
        routed.stop()
    print(f"storm: {STORM} registrations over 2 controllers -> 1 row, 1 subnet ({subnet}), 1 route")


def test_delete_against_post_of_the_same_node(db_url: str, router: str, tmp_path: Path) -> None:
    server = kernel_server(db_url, tmp_path, router)
    body = {"name": "racer", "address": address(8), "secret": new_secret()}
    outcomes: Counter[str] = Counter()
    server.start()
    started = time.monotonic()
    try:
        with server.client(server.bootstrap) as boot, server.client(body["secret"]) as own:
            assert boot.post("/v1/nodes", json=body).status_code == 201
            for round_ in range(ROUNDS):
                # Which one the controller sees first varies: either may be held back up to 4 ms (a few of these
                # land in one write batch, in either order; the rest arrive one after the other, both ways round).
                late = random.uniform(0, 0.004)
                post, delete = _together(
                    [lambda: boot.post("/v1/nodes", json=body), lambda: own.delete(f"/v1/nodes/{body['name']}")],
                    [late, 0.0] if round_ % 2 else [0.0, late],
                )
                assert post.status_code in (200, 201), (round_, post.text)
                assert delete.status_code == 204, (round_, delete.text)
                _check_round(server, router, round_, outcomes)
    finally:
        server.stop()
    print(f"delete vs post: {ROUNDS} rounds in {time.monotonic() - started:.1f} s, final states {dict(outcomes)}")
    assert sum(outcomes.values()) == ROUNDS


def _check_round(server: Server, router: str, round_: int, outcomes: Counter[str]) -> None:
    """At most one subnet for the node, held by nobody else; the router has exactly its route, or none."""
    rows = _rows(server, "racer")
    assert len(rows) == 1, (round_, rows)
    state, _, subnet, _ = rows[0]
    assert subnet is not None
    holders = sql(server.db_url, "SELECT name FROM nodes WHERE subnet = :s AND state <> 'released'", {"s": subnet})
    assert holders in ([], [("racer",)]), (round_, holders)
    if state == "released":
        wanted: set[tuple[str, str]] = set()
        outcomes["released"] += 1
    else:
        wanted = {(subnet, address(8))}
        outcomes["live"] += 1
    wait_for(lambda: owned_routes(router) == wanted, 10, step=0.02, what=f"round {round_}: router = {wanted}")
