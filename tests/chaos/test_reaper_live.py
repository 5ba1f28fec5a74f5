"""The lease reaper against a live cluster, grace shortened to seconds: live heartbeating nodes, a fresh
registration every 2 s (which then heartbeats too), and dead nodes (some silent from the start, some that stop
half-way). Over HUBNET_CHAOS_REAPER_SECONDS (default 60; `make test` runs 180): 0 live or new nodes released,
exactly the dead ones released, each after two observations across the grace (`node.stale`, then `node.released`
>= grace later) and with its lease still expired past the grace when released (the final re-check)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.chaos.support import Fleet, address, env_int, wait_for
from tests.integration.support import Server, sql

SECONDS = env_int("HUBNET_CHAOS_REAPER_SECONDS", 60)
TTL, GRACE, INTERVAL = 5.0, 5.0, 0.5
LIVE, DEAD_AT_START, DEAD_HALF_WAY = 16, 4, 3


def _heartbeats(fleet: Fleet, names: list[str], stop: threading.Event, statuses: list[int]) -> None:
    """Every 0.5 s each node in `names` heartbeats (8 at a time, one kept-alive connection each worker)."""
    with httpx.Client(base_url=fleet.server.url, timeout=30) as http, ThreadPoolExecutor(8) as pool:

        def one(name: str) -> None:
            resp = http.post(f"/v1/nodes/{name}/heartbeat", headers={"Authorization": f"Bearer {fleet.secrets[name]}"})
            statuses.append(resp.status_code)
            if resp.status_code != 200:
                print(f"heartbeat {name} at {time.time():.2f}: {resp.status_code} {resp.text}")

        while not stop.wait(0.5):
            list(pool.map(one, list(names)))


def test_reaper_releases_exactly_the_dead(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    env = {
        "HUBNET_LEASE_TTL_SECONDS": str(TTL),
        "HUBNET_RELEASE_GRACE_SECONDS": str(GRACE),
        "HUBNET_REAPER_INTERVAL_SECONDS": str(INTERVAL),
    }
    server = Server(f"sqlite:///{tmp_path / 'state' / 'hubnet.db'}", tmp_path, extra_env=env)
    fleet = Fleet(server)
    server.start()
    stop = threading.Event()
    statuses: list[int] = []
    try:
        live = [f"live-{i}" for i in range(LIVE)]
        fading = [f"fade-{i}" for i in range(DEAD_HALF_WAY)]
        dead = [f"dead-{i}" for i in range(DEAD_AT_START)]
        everyone = live + fading + dead
        fleet.register([(name, address(i)) for i, name in enumerate(everyone)])
        beating = live + fading
        fresh: list[str] = []
        with ThreadPoolExecutor(2) as pool:
            beats = pool.submit(_heartbeats, fleet, beating, stop, statuses)
            started = time.monotonic()
            n = len(everyone)
            while (elapsed := time.monotonic() - started) < SECONDS:
                if elapsed > SECONDS / 2 and fading[0] in beating:
                    for name in fading:
                        beating.remove(name)  # these nodes die half-way
                name = f"new-{len(fresh)}"
                fleet.register([(name, address(n + len(fresh)))])
                fresh.append(name)
                beating.append(name)
                time.sleep(2)
            died = set(dead) | set(fading)
            wait_for(lambda: _released(server) >= died, TTL + GRACE + 10, what="the dead nodes to be released")
            stop.set()
            beats.result()  # the heartbeat loop itself must not have failed
        assert set(statuses) == {200}, "a live node's heartbeat was refused"
        assert _released(server) == died, "a live or new node was released"
        _assert_two_observations(server, died)
        survivors = set(live) | set(fresh)
        states = dict(sql(server.db_url, "SELECT name, state FROM nodes"))
        assert {name for name in survivors if states[name] == "released"} == set()
        assert len(fresh) >= SECONDS // 4
        went_stale = {str(n) for (n,) in sql(server.db_url, "SELECT node FROM events WHERE type = 'node.stale'")}
        print(  # the figures for docs/reliability.md (pytest -s)
            f"reaper: {SECONDS}s, {len(statuses)} heartbeats, {len(live)} live + {len(fresh)} new nodes, "
            f"{len(died)} dead released, live/new went stale: {len(went_stale & survivors)}, released: 0"
        )
    finally:
        stop.set()
        server.stop()


def _released(server: Server) -> set[str]:
    return {str(n) for (n,) in sql(server.db_url, "SELECT node FROM events WHERE type = 'node.released'")}


def _assert_two_observations(server: Server, died: set[str]) -> None:
    query = "SELECT node, type, created_at FROM events WHERE type IN ('node.stale', 'node.released')"
    events = sql(server.db_url, query)
    seen: dict[str, dict[str, list[float]]] = {}
    for node, kind, at in events:
        seen.setdefault(str(node), {}).setdefault(str(kind), []).append(float(at))
    rows = sql(server.db_url, "SELECT name, expires_at, released_at FROM nodes WHERE state = 'released'")
    leases = {str(n): (float(e), float(r)) for n, e, r in rows}
    for name in died:
        (stale_at,), (released_at,) = seen[name]["node.stale"], seen[name]["node.released"]
        assert released_at - stale_at >= GRACE, f"{name}: released {released_at - stale_at:.2f}s after going stale"
        expires_at, released_row = leases[name]
        assert released_row - expires_at >= GRACE, f"{name}: its lease was not expired past the grace"
