"""`GET /v1/pools` and the state counts (/metrics) against a count of the rows, through the whole lease lifecycle,
on the in-memory unit of work (the SQL counters: tests/integration/test_pool_counts.py)."""

from __future__ import annotations

from collections import Counter

import pytest

from hubnet.server.domain.errors import HubnetError
from hubnet.server.services import nodes, pools, reaper
from hubnet.server.services.context import Controller
from tests.unit.server.fakes import ADMIN, BOOT, Clock, memory_controller

TTL, GRACE = 60.0, 300.0


def secret(i: int) -> str:
    return f"{i:03d}" * 16


def join(ctl: Controller, i: int) -> None:
    nodes.register(ctl, token=BOOT, name=f"n{i}", address=f"192.168.1.{i + 1}", secret=secret(i), machine_id=None)


def agree(ctl: Controller) -> int:
    """The served usage and state counts equal a count of the rows; returns the pool's allocated."""
    rows = ctl.read(lambda uow: uow.repo.list_nodes(state=None, after=None, limit=10_000))
    live = [n for n in rows if n.state != "released"]
    (pool,), _, _ = pools.list_pools(ctl, token=ADMIN)
    assert pool.allocated == len(live) and pool.allocated + pool.free == pool.total
    assert ctl.read(lambda uow: uow.repo.count_by_state()) == dict(Counter(n.state for n in rows))
    assert ctl.read(lambda uow: uow.repo.count_drift()) == []
    return pool.allocated


def test_usage_follows_register_release_delete_reclaim_and_expiry() -> None:
    clock = Clock()
    with memory_controller(clock, lease_ttl_seconds=TTL, release_grace_seconds=GRACE) as ctl:
        for i in range(5):
            join(ctl, i)
        assert agree(ctl) == 5
        nodes.delete(ctl, token=ADMIN, name="n0")
        assert agree(ctl) == 4
        with pytest.raises(HubnetError):  # refused (the address is n1's): nothing changes
            nodes.register(ctl, token=BOOT, name="x", address="192.168.1.2", secret="x" * 48, machine_id=None)
        assert agree(ctl) == 4
        clock.now += TTL + 1
        nodes.heartbeat(ctl, token=secret(1), name="n1")
        assert reaper.reap(ctl) == (3, 0)
        assert agree(ctl) == 4
        clock.now += GRACE + 1
        assert reaper.reap(ctl) == (1, 3)  # n1 goes stale meanwhile: still allocated
        assert agree(ctl) == 1
        join(ctl, 2)  # reclaims its subnet
        join(ctl, 0)
        assert agree(ctl) == 3


def test_the_start_up_scan_reports_no_drift_and_flags_nothing_on_good_rows() -> None:
    with memory_controller(Clock()) as ctl:
        for i in range(3):
            join(ctl, i)
        assert pools.scan(ctl) == []
        assert agree(ctl) == 3
