"""A released subnet whose route may still be on a router is not handed out again until a reconciler has seen the
route gone (issue 17 item 6): the rule in the service layer, on the in-memory database."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from hubnet.server.domain.errors import PoolExhausted
from hubnet.server.domain.lease import RouteState, withdrawal
from hubnet.server.domain.routeplan import after_apply
from hubnet.server.domain.routes import NodeRef, Route, RoutePlan
from hubnet.server.services import nodes, reaper, routes
from hubnet.server.services.context import Controller
from tests.unit.server.fakes import ADMIN, BOOT, Clock, events, memory_controller

POOL = {"cluster_cidr": "10.244.0.0/23", "node_prefix": 24}  # two subnets


def join(ctl: Controller, name: str, address: str) -> str:
    view, _ = nodes.register(ctl, token=BOOT, name=name, address=address, secret=name * 43, machine_id=None)
    return str(view.subnet)


def programmed(ctl: Controller, name: str) -> Route:
    """What a reconciler does after installing the node's route: report it `programmed`."""
    node = ctl.read(lambda uow: uow.repo.node(name))
    assert node is not None and node.subnet is not None and node.address is not None
    routes.report(ctl, {NodeRef(name, node.generation, node.address): ("programmed", None)})
    return Route(IPv4Network(node.subnet), IPv4Address(node.address))


def route_state(ctl: Controller, name: str) -> str:
    node = ctl.read(lambda uow: uow.repo.node(name))
    assert node is not None
    return node.route_state


@pytest.mark.parametrize(
    ("state", "error", "expected"),
    [
        ("pending", None, RouteState.WITHDRAWN),  # no reconciler ever reported: nothing can be on a router
        ("pending", "no Established session has it", RouteState.WITHDRAWING),
        ("programmed", None, RouteState.WITHDRAWING),
        ("failed", "file exists", RouteState.WITHDRAWING),
    ],
)
def test_what_a_release_leaves(state: str, error: str | None, expected: RouteState) -> None:
    assert withdrawal(state, error) is expected


def test_the_subnet_waits_for_the_route_to_be_seen_gone() -> None:
    with memory_controller(Clock(), **POOL) as ctl:
        old = join(ctl, "gone", "192.168.1.10")
        join(ctl, "stays", "192.168.1.11")
        route = programmed(ctl, "gone")
        nodes.delete(ctl, token=ADMIN, name="gone")
        assert route_state(ctl, "gone") == "withdrawing"
        for i in range(3):  # the only free subnet is held: the pool is full meanwhile
            with pytest.raises(PoolExhausted):
                join(ctl, f"new-{i}", f"192.168.1.{20 + i}")
        assert routes.confirm_withdrawn(ctl, lambda: {route}) == 0  # still on the router: still held
        with pytest.raises(PoolExhausted):
            join(ctl, "new-3", "192.168.1.23")
        assert routes.confirm_withdrawn(ctl, set) == 1  # gone now
        assert route_state(ctl, "gone") == "withdrawn"
        assert ("route.withdrawn", "gone") in [(kind, node) for kind, node, _ in events(ctl)]
        assert join(ctl, "new-4", "192.168.1.24") == old


def test_a_never_reported_route_does_not_hold_the_subnet() -> None:
    with memory_controller(Clock(), **POOL) as ctl:
        old = join(ctl, "gone", "192.168.1.10")
        join(ctl, "stays", "192.168.1.11")
        nodes.delete(ctl, token=ADMIN, name="gone")
        assert route_state(ctl, "gone") == "withdrawn"
        assert join(ctl, "new", "192.168.1.20") == old


def test_the_reaper_releases_a_routed_lease_as_withdrawing() -> None:
    clock = Clock()
    with memory_controller(clock, **POOL) as ctl:
        join(ctl, "quiet", "192.168.1.10")
        programmed(ctl, "quiet")
        clock.now += 61
        reaper.reap(ctl)  # stale
        clock.now += 301
        assert reaper.reap(ctl) == (0, 1)
        assert route_state(ctl, "quiet") == "withdrawing"


def test_the_node_itself_may_come_back_to_its_subnet_while_withdrawing() -> None:
    with memory_controller(Clock(), **POOL) as ctl:
        old = join(ctl, "back", "192.168.1.10")
        programmed(ctl, "back")
        nodes.delete(ctl, token=ADMIN, name="back")
        assert join(ctl, "back", "192.168.1.10") == old  # its own route: nobody else's traffic
        assert route_state(ctl, "back") == "pending"


def test_after_apply_keeps_what_a_failed_prefix_had() -> None:
    a = Route(IPv4Network("10.244.0.0/24"), IPv4Address("192.168.1.10"))
    b = Route(IPv4Network("10.244.1.0/24"), IPv4Address("192.168.1.11"))
    todo = RoutePlan(delete=(a, b))
    assert after_apply([a, b], todo, {}) == set()
    assert after_apply([a, b], todo, {a.prefix}) == {a}
