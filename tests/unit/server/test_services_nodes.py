"""Register / heartbeat / delete against the in-memory unit of work: the use cases' rules without a database."""

from __future__ import annotations

import pytest

from hubnet.server.domain.errors import AddressTaken, LeaseReleased, NameTaken, NotFound, PoolExhausted, SubnetReissued
from hubnet.server.services import nodes, reaper
from hubnet.server.services.context import Controller, CountingMetrics
from tests.unit.server.fakes import ADMIN, BOOT, Clock, events, kinds, memory_controller

SECRET = "s" * 48
OTHER_SECRET = "o" * 48


def join(ctl: Controller, name: str = "node-a", address: str = "192.168.1.10", secret: str = SECRET) -> tuple:  # type: ignore[type-arg]
    view, new = nodes.register(ctl, token=BOOT, name=name, address=address, secret=secret, machine_id=None)
    return view, new


def metrics(ctl: Controller) -> CountingMetrics:
    assert isinstance(ctl.metrics, CountingMetrics)
    return ctl.metrics


def test_register_allocates_the_first_subnet() -> None:
    with memory_controller(Clock()) as ctl:
        view, new = join(ctl)
        assert new
        assert (view.subnet, view.gateway, view.state, view.route_state) == (
            "10.244.0.0/24",
            "10.244.0.1",
            "active",
            "pending",
        )
        assert view.generation == 1
        assert view.lease_expires_at == 1_000_060.0
        second, _ = join(ctl, "node-b", "192.168.1.11")
        assert second.subnet == "10.244.1.0/24"
        assert kinds(ctl) == ["pool.added", "node.registered", "node.registered"]
        assert metrics(ctl).allocations == 2


def test_rejoin_with_the_same_secret_is_idempotent() -> None:
    clock = Clock()
    with memory_controller(clock) as ctl:
        first, _ = join(ctl)
        clock.now += 10
        again, new = join(ctl)
        assert not new
        assert (again.subnet, again.generation) == (first.subnet, 1)
        assert again.lease_expires_at == first.lease_expires_at + 10  # the lease is renewed
        assert kinds(ctl) == ["pool.added", "node.registered"]  # nothing new happened
        assert metrics(ctl).allocations == 1


def test_rejoin_from_a_new_address_resets_the_route_state() -> None:
    with memory_controller(Clock()) as ctl:
        join(ctl)
        moved, new = join(ctl, address="192.168.1.99")
        assert not new
        assert (moved.address, moved.route_state) == ("192.168.1.99", "pending")
        assert events(ctl)[-1] == (
            "node.address_changed",
            "node-a",
            {"old": "192.168.1.10", "new": "192.168.1.99", "subnet": "10.244.0.0/24"},
        )


def test_released_node_reclaims_its_subnet() -> None:
    clock = Clock()
    with memory_controller(clock) as ctl:
        first, _ = join(ctl)
        nodes.delete(ctl, token=ADMIN, name="node-a")
        clock.now += 5
        back, new = join(ctl, address="192.168.1.12")
        assert not new  # same secret: the same identity came back
        assert (back.subnet, back.generation, back.state, back.address) == (first.subnet, 2, "active", "192.168.1.12")
        assert kinds(ctl)[-2:] == ["node.released", "node.registered"]
        assert metrics(ctl).allocations == 2


def test_released_node_with_a_new_secret_is_a_new_identity() -> None:
    with memory_controller(Clock()) as ctl:
        join(ctl)
        nodes.delete(ctl, token=ADMIN, name="node-a")
        _, new = join(ctl, secret=OTHER_SECRET)
        assert new


def test_name_held_by_another_secret_is_refused() -> None:
    with memory_controller(Clock()) as ctl:
        join(ctl)
        with pytest.raises(NameTaken, match="held by another secret"):
            join(ctl, address="192.168.1.11", secret=OTHER_SECRET)
        assert kinds(ctl) == ["pool.added", "node.registered"]


def test_address_held_by_another_node_is_refused() -> None:
    with memory_controller(Clock()) as ctl:
        join(ctl)
        with pytest.raises(AddressTaken, match=r"192\.168\.1\.10"):
            join(ctl, "node-b", secret=OTHER_SECRET)
        join(ctl, "node-b", "192.168.1.11", OTHER_SECRET)
        with pytest.raises(AddressTaken):  # a re-join cannot move onto another node's address either
            join(ctl, "node-b", "192.168.1.10", OTHER_SECRET)


def test_exhausted_pool_is_refused_and_nothing_is_written() -> None:
    # 10.244.0.0/24 in /26s: four subnets
    with memory_controller(Clock(), cluster_cidr="10.244.0.0/24", node_prefix=26) as ctl:
        subnets = [join(ctl, f"node-{i}", f"192.168.1.{10 + i}", f"{i}" * 48)[0].subnet for i in range(4)]
        assert subnets == ["10.244.0.0/26", "10.244.0.64/26", "10.244.0.128/26", "10.244.0.192/26"]
        before = events(ctl)
        with pytest.raises(PoolExhausted, match="every pool is full"):
            join(ctl, "node-5", "192.168.1.50", "5" * 48)
        assert events(ctl) == before
        assert ctl.read(lambda uow: uow.repo.node("node-5")) is None


def test_exhausted_pool_hands_out_the_longest_released_subnet() -> None:
    clock = Clock()
    with memory_controller(clock, cluster_cidr="10.244.0.0/24", node_prefix=26) as ctl:
        for i in range(4):
            join(ctl, f"node-{i}", f"192.168.1.{10 + i}", f"{i}" * 48)
        nodes.delete(ctl, token=ADMIN, name="node-2")
        clock.now += 1
        nodes.delete(ctl, token=ADMIN, name="node-0")
        view, _ = join(ctl, "node-5", "192.168.1.50", "5" * 48)
        assert view.subnet == "10.244.0.128/26"  # node-2's: released first
        with pytest.raises(SubnetReissued):
            join(ctl, "node-2", "192.168.1.12", "2" * 48)


def test_heartbeat_renews_the_lease_and_a_stale_node_becomes_active() -> None:
    clock = Clock()
    with memory_controller(clock) as ctl:
        join(ctl)
        clock.now += 61  # past the 60 s TTL
        assert reaper.reap(ctl) == (1, 0)
        stale = ctl.read(lambda uow: uow.repo.node("node-a"))
        assert stale is not None and stale.state == "stale"
        view = nodes.heartbeat(ctl, token=SECRET, name="node-a")
        assert (view.state, view.lease_expires_at) == ("active", clock.now + 60)
        assert kinds(ctl)[-2:] == ["node.stale", "node.renewed"]
        nodes.heartbeat(ctl, token=SECRET, name="node-a")
        assert kinds(ctl)[-1] == "node.renewed"  # an active node's heartbeat records nothing


def test_heartbeat_of_a_released_lease_says_register_again() -> None:
    with memory_controller(Clock()) as ctl:
        join(ctl)
        nodes.delete(ctl, token=SECRET, name="node-a")
        with pytest.raises(LeaseReleased, match="register again"):
            nodes.heartbeat(ctl, token=SECRET, name="node-a")


def test_heartbeat_of_an_unknown_node_is_not_found() -> None:
    with memory_controller(Clock()) as ctl, pytest.raises(NotFound):
        nodes.heartbeat(ctl, token=ADMIN, name="nobody")


def test_delete_releases_once_and_is_idempotent() -> None:
    with memory_controller(Clock()) as ctl:
        join(ctl)
        nodes.delete(ctl, token=ADMIN, name="node-a")
        nodes.delete(ctl, token=ADMIN, name="node-a")
        node = ctl.read(lambda uow: uow.repo.node("node-a"))
        assert node is not None
        assert (node.state, node.route_state, node.released_at) == ("released", "withdrawn", 1_000_000.0)
        assert kinds(ctl) == ["pool.added", "node.registered", "node.released"]
        assert events(ctl)[-1][2] == {"subnet": "10.244.0.0/24", "subnets": ["10.244.0.0/24"], "reason": "deleted"}
        assert metrics(ctl).releases == 1


def test_delete_removes_a_released_record_whose_subnet_was_reissued() -> None:
    with memory_controller(Clock(), cluster_cidr="10.244.0.0/24", node_prefix=25) as ctl:
        join(ctl, "node-0", "192.168.1.10", "0" * 48)
        join(ctl, "node-1", "192.168.1.11", "1" * 48)
        nodes.delete(ctl, token=ADMIN, name="node-0")
        join(ctl, "node-2", "192.168.1.12", "2" * 48)  # takes node-0's subnet
        nodes.delete(ctl, token=ADMIN, name="node-0")
        assert ctl.read(lambda uow: uow.repo.node("node-0")) is None
        assert kinds(ctl)[-1] == "node.deleted"
        with pytest.raises(PoolExhausted):  # the name is free again: only the (full) pool refuses it now
            join(ctl, "node-0", "192.168.1.10", "0" * 48)


def test_a_failing_use_case_is_undone_alone() -> None:
    with memory_controller(Clock()) as ctl:
        join(ctl)

        def half_then_fail(uow):  # type: ignore[no-untyped-def]
            node = uow.repo.node("node-a")
            uow.repo.update_node(node.id, state="released")
            uow.emit("test.never", None)
            raise RuntimeError("a bug after writing")

        with pytest.raises(RuntimeError):
            ctl.write(half_then_fail)
        node = ctl.read(lambda uow: uow.repo.node("node-a"))
        assert node is not None and node.state == "active"
        assert "test.never" not in kinds(ctl)


def test_with_the_bgp_backend_a_released_subnet_waits_out_the_graceful_restart_time_even_in_a_full_pool() -> None:
    """Routers keep a vanished speaker's routes for the restart time: a subnet released less than that ago is never
    handed to another node (the pool is full instead), then it is."""
    clock = Clock()
    bgp = {"route_backend": "bgp", "bgp_router_id": "192.168.1.2", "bgp_gr_restart_seconds": 120}
    with memory_controller(clock, cluster_cidr="10.244.0.0/24", node_prefix=26, **bgp) as ctl:
        for i in range(4):
            join(ctl, f"node-{i}", f"192.168.1.{10 + i}", f"{i}" * 48)
        nodes.delete(ctl, token=ADMIN, name="node-2")
        clock.now += 119
        with pytest.raises(PoolExhausted):
            join(ctl, "node-5", "192.168.1.50", "5" * 48)
        clock.now += 2
        view, _ = join(ctl, "node-5", "192.168.1.50", "5" * 48)
        assert view.subnet == "10.244.0.128/26"
