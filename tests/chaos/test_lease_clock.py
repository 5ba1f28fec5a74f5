"""The lease clock stops only while no controller runs (real controllers under uvicorn, SQLite and PostgreSQL,
TTL/grace shortened to seconds):

- a controller that crash-loops (up ~1.5 s, kill -9, down ~1.5 s) still releases a dead node within a few cycles,
  while a node that heartbeats whenever the controller is up is never released;
- so does one that crash-loops with an up-time SHORTER than one reaper interval (up ~0.6 s, interval 1 s): the
  reaper's first pass runs at start, and each start gives back the downtime less one interval;
- restarting controller B again and again while controller A runs on the same database never extends an expired
  lease: the dead node is released on its original schedule.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.chaos.support import Fleet, address, wait_for
from tests.integration.support import Server, sql

pytestmark = pytest.mark.serial  # controller starts must land inside a lease window: no second worker on the CPU


def _server(db_url: str, log_dir: Path, *, ttl: float, grace: float, interval: float) -> Server:
    env = {
        "HUBNET_LEASE_TTL_SECONDS": str(ttl),
        "HUBNET_RELEASE_GRACE_SECONDS": str(grace),
        "HUBNET_REAPER_INTERVAL_SECONDS": str(interval),
    }
    return Server(db_url, log_dir, extra_env=env)


def _lease(db_url: str, name: str) -> tuple[str, float]:
    ((state, expires_at),) = sql(db_url, "SELECT state, expires_at FROM nodes WHERE name = :n", {"n": name})
    return str(state), float(expires_at)


def _up_with_heartbeats(fleet: Fleet, name: str, seconds: float, statuses: list[int]) -> None:
    """What a live agent does while the controller answers: heartbeat every 0.2 s."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        statuses.append(fleet.heartbeat(name).status_code)
        time.sleep(0.2)


def _crash_loop(server: Server, db_url: str, *, up: float, down: float, max_cycles: int) -> int:
    """Start, stay up `up` s (the `alive` node heartbeats), kill -9, stay down `down` s, until the `dead` node is
    released; returns how many cycles that took. The `alive` node must never be released."""
    fleet = Fleet(server)
    statuses: list[int] = []
    try:
        server.start()
        fleet.register([("dead", address(1)), ("alive", address(2))])
        cycles = 0
        while _lease(db_url, "dead")[0] != "released":
            assert cycles < max_cycles, f"dead node not released after {cycles} crash cycles: {_lease(db_url, 'dead')}"
            if cycles:
                server.start()
            _up_with_heartbeats(fleet, "alive", up, statuses)
            assert server.stop(signal.SIGKILL) == -signal.SIGKILL
            cycles += 1
            time.sleep(down)
        assert _lease(db_url, "alive")[0] != "released"
        assert set(statuses) == {200}, "the live node's heartbeat was refused"
        return cycles
    finally:
        server.stop(signal.SIGKILL)


def test_a_crash_looping_controller_still_releases_dead_nodes(db_url: str, tmp_path: Path) -> None:
    # TTL + grace = 3 s of up-time is ~2-3 cycles (at most one interval per outage is counted as up-time that was
    # not). Under the old one-TTL-per-start rule: never.
    ttl, grace, up, down = 1.0, 2.0, 1.5, 1.5
    server = _server(db_url, tmp_path, ttl=ttl, grace=grace, interval=0.2)
    cycles = _crash_loop(server, db_url, up=up, down=down, max_cycles=8)
    print(f"crash loop: dead node released after {cycles} cycles ({up}s up, {down}s down, TTL + grace {ttl + grace}s)")


def test_a_controller_dying_within_one_reaper_interval_still_releases_dead_nodes(db_url: str, tmp_path: Path) -> None:
    """CrashLoopBackOff with an up-time shorter than the reaper interval: without the pass at start no pass ever
    runs; with a shift of the whole downtime the leases never age. Each start ages them by one interval (1 s), so
    TTL + grace = 3 s takes ~4 cycles."""
    ttl, grace, interval, up, down = 1.0, 2.0, 1.0, 0.6, 2.5
    server = _server(db_url, tmp_path, ttl=ttl, grace=grace, interval=interval)
    cycles = _crash_loop(server, db_url, up=up, down=down, max_cycles=10)
    print(f"short crash loop: dead node released after {cycles} cycles ({up}s up < {interval}s interval, {down}s down)")


def test_restarting_another_controller_does_not_extend_expired_leases(db_url: str, tmp_path: Path) -> None:
    # A 2 s interval: B's start sees A's stamp as alive while it is < 4 s old, so A's pass may queue 2 s behind B's
    # start-up writes on a loaded machine without B taking A for dead.
    ttl, grace, interval = 2.0, 3.0, 2.0
    a = _server(db_url, tmp_path, ttl=ttl, grace=grace, interval=interval)
    b = _server(db_url, tmp_path, ttl=ttl, grace=grace, interval=interval)
    fleet = Fleet(a)
    try:
        a.start()
        fleet.register([("dead", address(1))])
        _, expires_at = _lease(db_url, "dead")
        # A releases it by expiry + interval (stale mark) + grace + interval (release pass); B's start may be in the
        # way of noticing it.
        release_by = time.monotonic() + ttl + interval + grace + interval
        restarts, late_starts, slowest_start = 0, 0, 0.0
        while _lease(db_url, "dead")[0] != "released" and time.monotonic() < release_by + slowest_start + 2:
            late_starts += time.time() > expires_at  # the old one-TTL-per-start rule would extend it here
            began = time.monotonic()
            b.start()  # its start-up sees A's clock stamp: a controller is alive, nothing to give back
            slowest_start = max(slowest_start, time.monotonic() - began)
            restarts += 1
            assert b.stop(signal.SIGKILL if restarts % 2 else signal.SIGTERM) is not None
        state, expires_now = _lease(db_url, "dead")
        assert expires_now == expires_at, f"B's restarts moved the lease by {expires_now - expires_at:.2f}s"
        assert state == "released", f"not released on schedule with {restarts} restarts of B"
        assert late_starts >= 1, "B never started while the lease was expired: the test proved nothing"
        wait_for(lambda: a.proc is not None and a.proc.poll() is None, 1, what="A still running")
        print(
            f"two controllers: {restarts} restarts of B ({late_starts} with the lease expired, slowest start "
            f"{slowest_start:.1f}s), lease never moved, dead node released on schedule"
        )
    finally:
        b.stop(signal.SIGKILL)
        a.stop()
