"""The lease clock stops only while no controller runs (real controllers under uvicorn, SQLite and PostgreSQL,
TTL/grace shortened to seconds):

- a controller that crash-loops (up ~1.5 s, kill -9, down ~1.5 s) still releases a dead node within a few cycles,
  while a node that heartbeats whenever the controller is up is never released;
- restarting controller B again and again while controller A runs on the same database never extends an expired
  lease: the dead node is released on its original schedule.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.chaos.support import Fleet, address, wait_for
from tests.integration.support import Server, sql

TTL, GRACE = 1.0, 2.0
UP, DOWN = 1.5, 1.5
# Up-time counted per cycle is about UP (startup after the resume counts too, one reaper interval at most is lost
# to the kill): TTL + GRACE = 3 s of it is ~2-3 cycles. Under the old one-TTL-per-start rule: never.
MAX_CYCLES = 8


def _server(db_url: str, log_dir: Path, interval: float) -> Server:
    env = {
        "HUBNET_LEASE_TTL_SECONDS": str(TTL),
        "HUBNET_RELEASE_GRACE_SECONDS": str(GRACE),
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


def test_a_crash_looping_controller_still_releases_dead_nodes(db_url: str, tmp_path: Path) -> None:
    server = _server(db_url, tmp_path, interval=0.2)
    fleet = Fleet(server)
    statuses: list[int] = []
    try:
        server.start()
        fleet.register([("dead", address(1)), ("alive", address(2))])
        cycles = 0
        while _lease(db_url, "dead")[0] != "released":
            assert cycles < MAX_CYCLES, f"dead node not released after {cycles} crash cycles: {_lease(db_url, 'dead')}"
            if cycles:
                server.start()
            _up_with_heartbeats(fleet, "alive", UP, statuses)
            assert server.stop(signal.SIGKILL) == -signal.SIGKILL
            cycles += 1
            time.sleep(DOWN)
        assert _lease(db_url, "alive")[0] != "released"
        assert set(statuses) == {200}, "the live node's heartbeat was refused"
        print(
            f"crash loop: dead node released after {cycles} cycles ({UP}s up, {DOWN}s down, TTL + grace {TTL + GRACE}s)"
        )
    finally:
        server.stop(signal.SIGKILL)


def test_restarting_another_controller_does_not_extend_expired_leases(db_url: str, tmp_path: Path) -> None:
    interval = 0.5
    a, b = _server(db_url, tmp_path, interval), _server(db_url, tmp_path, interval)
    fleet = Fleet(a)
    try:
        a.start()
        fleet.register([("dead", address(1))])
        _, expires_at = _lease(db_url, "dead")
        restarts = 0
        deadline = time.monotonic() + TTL + GRACE + 5
        while _lease(db_url, "dead")[0] != "released" and time.monotonic() < deadline:
            b.start()  # its start-up sees A's clock stamp: a controller is alive, nothing to give back
            restarts += 1
            assert b.stop(signal.SIGKILL if restarts % 2 else signal.SIGTERM) is not None
        state, expires_now = _lease(db_url, "dead")
        assert expires_now == expires_at, f"B's restarts moved the lease by {expires_now - expires_at:.2f}s"
        assert state == "released", f"not released on schedule with {restarts} restarts of B"
        assert restarts >= 2
        wait_for(lambda: a.proc is not None and a.proc.poll() is None, 1, what="A still running")
        print(f"two controllers: {restarts} restarts of B, lease never moved, dead node released on schedule")
    finally:
        b.stop(signal.SIGKILL)
        a.stop()
