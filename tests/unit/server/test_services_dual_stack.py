"""Dual-stack registration rules (docs/dual-stack.md) against the in-memory unit of work, and the allocator's IPv6
geometry."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_network
from typing import Any

import pytest

from hubnet.server.domain.allocator import PoolSpace
from hubnet.server.domain.errors import AddressTaken, InvalidInput, PoolExhausted, SubnetReissued
from hubnet.server.domain.memory import MemoryAllocator
from hubnet.server.services import nodes, reaper
from hubnet.server.services.context import Controller
from hubnet.wire import Node
from tests.unit.server.fakes import ADMIN, BOOT, Clock, events, memory_controller

SECRET = "s" * 48
DUAL: dict[str, Any] = {
    "cluster_cidr": (ip_network("10.244.0.0/16"), ip_network("fd00:10:244::/56")),
    "router_address": (IPv4Address("192.168.255.254"), IPv6Address("fd00:ffff::fe")),
}


def join(ctl: Controller, name: str, *addresses: str, secret: str = SECRET) -> Node:
    view, _ = nodes.register(
        ctl, token=BOOT, name=name, address=addresses[0], addresses=list(addresses), secret=secret, machine_id=None
    )
    return view


def row(ctl: Controller, name: str) -> Any:
    return ctl.read(lambda uow: uow.repo.node(name))


def test_a_node_gets_one_subnet_per_family_and_the_event_says_so() -> None:
    with memory_controller(Clock(), **DUAL) as ctl:
        view = join(ctl, "a", "192.168.1.10", "fd00:1::10")
        assert view.subnets == ["10.244.0.0/24", "fd00:10:244::/64"]
        assert (view.subnet, view.address, view.gateway) == ("10.244.0.0/24", "192.168.1.10", "10.244.0.1")
        assert view.gateways == ["10.244.0.1", "fd00:10:244::1"]
        assert view.addresses == ["192.168.1.10", "fd00:1::10"]
        second = join(ctl, "b", "192.168.1.11", "fd00:1::11")
        assert second.subnets == ["10.244.1.0/24", "fd00:10:244:1::/64"]
        kind, node, data = events(ctl)[-1]
        assert (kind, node) == ("node.registered", "b")
        assert data["subnet"] == "10.244.1.0/24" and data["subnets"] == second.subnets


def test_only_families_with_both_a_pool_and_an_address_get_a_subnet() -> None:
    with memory_controller(Clock(), **DUAL) as ctl:
        assert join(ctl, "v4", "192.168.1.10").subnets == ["10.244.0.0/24"]
        assert join(ctl, "v6", "fd00:1::10").subnets == ["fd00:10:244::/64"]
        v6 = row(ctl, "v6")
        assert (v6.address, v6.subnet, v6.pool_id) == (None, None, None)
        assert (v6.address6, v6.subnet6) == ("fd00:1::10", "fd00:10:244::/64")
    with memory_controller(Clock()) as ctl:  # an IPv4-only cluster: the IPv6 address is kept, no IPv6 subnet
        assert join(ctl, "both", "192.168.1.10", "fd00:1::10").subnets == ["10.244.0.0/24"]


def test_ipv6_address_is_normalized_and_unique_among_live_nodes() -> None:
    with memory_controller(Clock(), **DUAL) as ctl:
        join(ctl, "a", "192.168.1.10", "FD00:1:0::10")
        assert row(ctl, "a").address6 == "fd00:1::10"
        with pytest.raises(AddressTaken) as err:
            join(ctl, "b", "192.168.1.11", "fd00:1::10", secret="b" * 48)
        assert err.value.field == "addresses"
        assert row(ctl, "b") is None


def test_rejoin_moves_an_address_adds_a_family_and_refuses_dropping_one() -> None:
    with memory_controller(Clock(), **DUAL) as ctl:
        first = join(ctl, "a", "192.168.1.10")
        grown = join(ctl, "a", "192.168.1.10", "fd00:1::10")
        assert grown.subnets == [first.subnet, "fd00:10:244::/64"] and grown.route_state == "pending"
        assert events(ctl)[-1][:2] == ("node.subnet_added", "a")
        assert events(ctl)[-1][2]["subnet"] == "fd00:10:244::/64"
        moved = join(ctl, "a", "192.168.1.10", "fd00:1::99")
        assert moved.subnets == grown.subnets and moved.addresses == ["192.168.1.10", "fd00:1::99"]
        assert events(ctl)[-1][:2] == ("node.address_changed", "a")
        assert events(ctl)[-1][2] == {"old": "fd00:1::10", "new": "fd00:1::99", "subnet": "fd00:10:244::/64"}
        with pytest.raises(InvalidInput) as err:
            join(ctl, "a", "192.168.1.10")
        assert err.value.field == "addresses"
        assert row(ctl, "a").subnet6 == "fd00:10:244::/64"


def test_a_full_family_refuses_the_registration_and_writes_nothing() -> None:
    small = {**DUAL, "cluster_cidr": (ip_network("10.244.0.0/16"), ip_network("fd00:10:244::/63"))}
    with memory_controller(Clock(), **small) as ctl:
        join(ctl, "a", "192.168.1.10", "fd00:1::10")
        join(ctl, "b", "192.168.1.11", "fd00:1::11")
        before = events(ctl)
        with pytest.raises(PoolExhausted, match="IPv6"):
            join(ctl, "c", "192.168.1.12", "fd00:1::12")
        assert row(ctl, "c") is None and events(ctl) == before
        assert join(ctl, "d", "192.168.1.13").subnets == ["10.244.2.0/24"]  # IPv4 still has room


def test_a_running_node_rejoins_even_when_its_new_family_is_full() -> None:
    """An IPv4 node that gains an IPv6 address while the IPv6 pools are full keeps working on IPv4 (a re-join is a
    running node's agent restarting: refusing it would cut a working node), and the event log says why."""
    small = {**DUAL, "cluster_cidr": (ip_network("10.244.0.0/16"), ip_network("fd00:10:244::/64"))}
    with memory_controller(Clock(), **small) as ctl:
        join(ctl, "full", "192.168.1.9", "fd00:1::9")  # takes the only /64
        first = join(ctl, "a", "192.168.1.10")
        again = join(ctl, "a", "192.168.1.10", "fd00:1::10")
        assert again.subnets == [first.subnet] and again.addresses == ["192.168.1.10", "fd00:1::10"]
        kind, node, data = events(ctl)[-1]
        assert (kind, node, data["family"]) == ("node.subnet_unavailable", "a", 6)
        assert "full" in data["reason"]
        assert row(ctl, "a").subnet6 is None


def test_reclaim_gives_back_both_subnets_unless_one_was_reissued() -> None:
    small = {**DUAL, "cluster_cidr": (ip_network("10.244.0.0/16"), ip_network("fd00:10:244::/63"))}
    with memory_controller(Clock(), **small) as ctl:
        a = join(ctl, "a", "192.168.1.10", "fd00:1::10")
        nodes.delete(ctl, token=ADMIN, name="a")
        assert events(ctl)[-1][2]["subnets"] == a.subnets
        assert join(ctl, "a", "192.168.1.10", "fd00:1::10").subnets == a.subnets
        join(ctl, "b", "192.168.1.11", "fd00:1::11")
        nodes.delete(ctl, token=ADMIN, name="a")
        c = join(ctl, "c", "192.168.1.12", "fd00:1::12", secret="c" * 48)
        assert c.subnets[1] == a.subnets[1] and c.subnets[0] != a.subnets[0]
        assert row(ctl, "a").reissued6 and not row(ctl, "a").reissued
        with pytest.raises(SubnetReissued) as err:
            join(ctl, "a", "192.168.1.10", "fd00:1::10")
        assert err.value.extra["subnet"] == a.subnets[1]
        nodes.delete(ctl, token=ADMIN, name="a")  # a released record that cannot reclaim is removed
        assert row(ctl, "a") is None


def test_expiry_releases_both_families() -> None:
    clock = Clock()
    with memory_controller(clock, **DUAL) as ctl:
        a = join(ctl, "a", "192.168.1.10", "fd00:1::10")
        clock.now += 61
        reaper.reap(ctl)
        clock.now += 301
        assert reaper.reap(ctl) == (0, 1)
        kind, _, data = events(ctl)[-1]
        assert (kind, data["subnet"], data["subnets"]) == ("node.released", a.subnet, a.subnets)
        # the released /64 is handed out again only once no fresh one is left: a new node gets the next one
        assert join(ctl, "b", "192.168.1.11", "fd00:1::11", secret="b" * 48).subnets[1] == "fd00:10:244:1::/64"


def test_ipv6_pool_space() -> None:
    pool = IPv6Network("fd00:10:244::/56")
    space = PoolSpace.build(
        pool,
        64,
        exclude=[ip_network("fd00:10:244:10::/60"), ip_network("10.96.0.0/12")],
        router=[IPv4Address("10.244.0.1"), IPv6Address("fd00:10:244:ff::1")],
    )
    assert (space.size, space.total) == (256, 256 - 16 - 1)
    assert space.subnet_at(0) == IPv6Network("fd00:10:244::/64")
    assert space.subnet_at(255) == IPv6Network("fd00:10:244:ff::/64")
    assert space.index_of(IPv6Network("fd00:10:244:2a::/64")) == 0x2A
    assert space.index_of(ip_network("10.244.0.0/24")) is None  # another family is never one of its subnets
    assert not space.allocatable(IPv6Network("fd00:10:244:11::/64"))  # inside the excluded /60
    assert not space.allocatable(IPv6Network("fd00:10:244:ff::/64"))  # the router's
    allocator = MemoryAllocator(space)
    handed = [allocator.allocate_next() for _ in range(space.total)]
    assert len(set(handed)) == space.total and all(space.allocatable(s) for s in handed)
    with pytest.raises(PoolExhausted):
        allocator.allocate_next()
    with pytest.raises(ValueError, match="does not fit"):
        PoolSpace.build(pool, 127)
    with pytest.raises(ValueError, match="more than"):
        PoolSpace.build(IPv6Network("fd00::/48"), 65)
    assert PoolSpace.build(IPv6Network("fd00::/48"), 64).size == 65536


def test_an_address_of_a_family_without_a_subnet_moves_without_touching_the_route() -> None:
    with memory_controller(Clock()) as ctl:  # IPv4-only cluster
        join(ctl, "a", "192.168.1.10", "fd00:1::10")
        ctl.write(lambda uow: uow.repo.set_route_state("a", 1, "192.168.1.10", "programmed", None))
        before = events(ctl)
        moved = join(ctl, "a", "192.168.1.10", "fd00:1::99")
        assert moved.addresses == ["192.168.1.10", "fd00:1::99"] and moved.route_state == "programmed"
        assert events(ctl) == before
        assert join(ctl, "a", "192.168.1.10").addresses == ["192.168.1.10"]  # no IPv6 subnet: may be dropped
        assert join(ctl, "a", "192.168.1.99").route_state == "pending"  # the IPv4 route moves
