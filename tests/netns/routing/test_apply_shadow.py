"""The kernel backend's apply computes its record of the table and the caller's `meanwhile` while the kernel works,
and sends adds in bit-reversed order: our own routes are never mistaken for drift although the watcher may see
them before the record has them, an operator's change during the apply still is drift, and `meanwhile` runs once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address, IPv4Network

import pytest

from hubnet.linux.routes import KernelRoute, RouteEvent, RouteMonitor
from hubnet.net import Network
from hubnet.server.domain.routes import Route, RoutePlan
from hubnet.server.routing import kernel
from hubnet.server.routing.kernel import KernelBackend
from tests.netns.routing.conftest import PROTO, Router, route, route6, wait_for

pytestmark = pytest.mark.netns


def many(count: int) -> tuple[Route, ...]:
    """`count` /24s of 10.100.0.0/14 via 192.168.1.10-209 (on the router's LAN)."""
    return tuple(
        Route(IPv4Network((int(IPv4Address("10.100.0.0")) + (n << 8), 24)), IPv4Address(f"192.168.1.{10 + n % 200}"))
        for n in range(count)
    )


def late_record(monkeypatch: pytest.MonkeyPatch, seen: threading.Event, during: Callable[[], object]) -> None:
    """Make the backend write its record only after the watcher has seen one of the apply's own routes, and run
    `during` then: the window the hold must cover, made certain."""
    real = kernel.expect

    def expect(known: kernel.Known, plan: RoutePlan) -> None:
        assert seen.wait(5), "the watcher saw none of the apply's routes"
        during()
        real(known, plan)

    monkeypatch.setattr(kernel, "expect", expect)


def watched(router: Router) -> tuple[KernelBackend, list[float], threading.Event, RouteMonitor]:
    """A backend watching the router; the times it reported drift; an event set once a probe (the last, to stop)
    has seen a route of ours."""
    backend = KernelBackend(proto=PROTO, netns=router.ns)
    drift: list[float] = []
    backend.watch(lambda: drift.append(time.monotonic()))
    seen = threading.Event()

    def on_event(event: RouteEvent, r: KernelRoute | None) -> None:
        if r is not None and r.protocol == PROTO:
            seen.set()

    probe = RouteMonitor(table=254, netns=router.ns, on_event=on_event)
    probe.start()
    return backend, drift, seen, probe


def test_own_routes_seen_before_the_record_are_not_drift(router: Router, monkeypatch: pytest.MonkeyPatch) -> None:
    backend, drift, seen, probe = watched(router)
    late_record(monkeypatch, seen, lambda: None)
    runs: list[int] = []
    try:
        routes = many(6000)
        result = backend.apply(RoutePlan(add=routes), lambda: runs.append(1))
        assert result.failed == {}
        assert router.count_ours() == 6000
        time.sleep(0.5)  # the watcher drains the rest of the notifications
        assert drift == [], "the backend's own adds were taken for drift"
        assert runs == [1]
        assert backend.list_owned(fresh=False) and len(backend.list_owned(fresh=False)) == 6000
    finally:
        probe.stop()
        backend.close()


def test_an_operator_delete_during_the_apply_is_drift_once_judged(
    router: Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend, drift, seen, probe = watched(router)
    try:
        first = route(1)
        assert backend.apply(RoutePlan(add=(first,))).failed == {}
        seen.clear()
        late_record(
            monkeypatch,
            seen,
            lambda: router.ip("route", "del", str(first.prefix), "via", str(first.next_hop), "proto", str(PROTO)),
        )
        assert backend.apply(RoutePlan(add=many(3000))).failed == {}
        wait_for(lambda: bool(drift), timeout=2)
    finally:
        probe.stop()
        backend.close()


@contextmanager
def added_in_order(router: Router) -> Iterator[tuple[KernelBackend, list[Network]]]:
    """A backend on the router and the prefixes of our routes in the order the kernel announced them."""
    order: list[Network] = []

    def on_event(event: RouteEvent, r: KernelRoute | None) -> None:
        if event == "new" and r is not None and r.protocol == PROTO:
            order.append(r.prefix)

    monitor = RouteMonitor(table=254, netns=router.ns, on_event=on_event)
    monitor.start()
    backend = KernelBackend(proto=PROTO, netns=router.ns)
    try:
        yield backend, order
    finally:
        monitor.stop()
        backend.close()


def test_adds_go_out_in_bit_reversed_order_and_meanwhile_runs_once(router: Router) -> None:
    runs: list[str] = []
    with added_in_order(router) as (backend, order):
        routes = many(8)
        assert backend.apply(RoutePlan(add=routes), lambda: runs.append("one batch")).failed == {}
        assert backend.apply(RoutePlan(), lambda: runs.append("nothing to send")).failed == {}
        wait_for(lambda: len(order) == 8, timeout=2)
    assert order == [routes[i].prefix for i in (0, 4, 2, 6, 1, 5, 3, 7)]
    assert runs == ["one batch", "nothing to send"]


def test_ipv6_adds_keep_the_plans_order(router6: Router) -> None:
    """IPv6's route tree gains nothing from a spread order (BENCHMARKS.md): a dual-stack plan's IPv4 adds go out
    spread, its IPv6 adds in the plan's order, wherever they stand in the plan."""
    v4, v6 = [route(n) for n in range(1, 5)], [route6(n) for n in range(1, 5)]
    with added_in_order(router6) as (backend, order):
        mixed = (v6[0], v4[0], v6[1], v4[1], v6[2], v4[2], v6[3], v4[3])
        assert backend.apply(RoutePlan(add=mixed)).failed == {}
        wait_for(lambda: len(order) == 8, timeout=2)
    assert [p for p in order if p.version == 6] == [r.prefix for r in v6]
    assert [p for p in order if p.version == 4] == [v4[i].prefix for i in (0, 2, 1, 3)]
