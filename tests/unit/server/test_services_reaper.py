"""The reaper's passes and the lease clock against the in-memory unit of work."""

from __future__ import annotations

from hubnet.server.domain.lease import Resume
from hubnet.server.services import nodes, reaper
from hubnet.server.services.context import Controller, CountingMetrics
from tests.unit.server.fakes import BOOT, Clock, events, kinds, memory_controller

TTL, GRACE = 60.0, 300.0


def join(ctl: Controller, name: str, address: str) -> None:
    nodes.register(ctl, token=BOOT, name=name, address=address, secret=name * 8, machine_id=None)


def state(ctl: Controller, name: str) -> str:
    node = ctl.read(lambda uow: uow.repo.node(name))
    assert node is not None
    return node.state


def test_expired_lease_goes_stale_then_released_after_the_grace() -> None:
    clock = Clock()
    with memory_controller(clock, lease_ttl_seconds=TTL, release_grace_seconds=GRACE) as ctl:
        join(ctl, "node-a", "192.168.1.10")
        join(ctl, "node-b", "192.168.1.11")
        clock.now += TTL - 1
        assert reaper.reap(ctl) == (0, 0)
        nodes.heartbeat(ctl, token="node-b" * 8, name="node-b")
        clock.now += 2  # node-a expired, node-b renewed
        assert reaper.reap(ctl) == (1, 0)
        assert (state(ctl, "node-a"), state(ctl, "node-b")) == ("stale", "active")
        stale = {"subnet": "10.244.0.0/24", "subnets": ["10.244.0.0/24"], "expired_at": 1_000_060.0}
        assert events(ctl)[-1] == ("node.stale", "node-a", stale)
        clock.now += GRACE - 10
        assert reaper.reap(ctl)[1] == 0  # stale for less than the grace: the route stays
        clock.now += 20
        assert reaper.reap(ctl) == (0, 1)
        node = ctl.read(lambda uow: uow.repo.node("node-a"))
        assert node is not None
        assert (node.state, node.route_state, node.released_at) == ("released", "withdrawn", clock.now)
        assert kinds(ctl)[-1] == "node.released"
        assert events(ctl)[-1][2]["reason"] == "lease expired"
        assert isinstance(ctl.metrics, CountingMetrics) and ctl.metrics.releases == 1


def test_a_late_pass_never_marks_and_releases_at_once() -> None:
    clock = Clock()
    with memory_controller(clock, lease_ttl_seconds=TTL, release_grace_seconds=GRACE) as ctl:
        join(ctl, "node-a", "192.168.1.10")
        clock.now += TTL + GRACE + 100  # the first pass after a long pause
        assert reaper.reap(ctl) == (1, 0)
        clock.now += GRACE + 1
        assert reaper.reap(ctl) == (0, 1)


def test_every_pass_stamps_the_lease_clock() -> None:
    clock = Clock()
    with memory_controller(clock) as ctl:
        reaper.reap(ctl)
        assert ctl.read(lambda uow: uow.repo.alive_at()) == clock.now
        clock.now += 7
        reaper.stamp_alive(ctl)
        assert ctl.read(lambda uow: uow.repo.alive_at()) == clock.now


def test_resume_gives_back_the_downtime() -> None:
    clock = Clock()
    with memory_controller(clock, reaper_interval_seconds=5.0) as ctl:
        join(ctl, "node-a", "192.168.1.10")
        reaper.stamp_alive(ctl)
        clock.now += 1000  # no controller ran
        plan, count = reaper.resume_leases(ctl)
        assert (plan.action, plan.shift, count) == (Resume.SHIFT, 995.0, 1)
        node = ctl.read(lambda uow: uow.repo.node("node-a"))
        assert node is not None and node.expires_at == 1_000_060.0 + 995.0
