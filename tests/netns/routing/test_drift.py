"""Drift: routes of ours removed, and bogus ones added with our protocol, behind the reconciler's back (with
`ip`, like an operator would) are repaired — within one period, and deletions at once through netlink events."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from hubnet.linux.routes import KernelRoute, RouteEvent, RouteMonitor
from hubnet.server.domain.routes import DesiredRoute
from hubnet.server.routing.kernel import KernelBackend
from hubnet.server.routing.reconciler import Reconciler
from tests.netns.routing.conftest import PROTO, Router, desired, route, wait_for

pytestmark = pytest.mark.netns


class Blind(KernelBackend):
    """The kernel backend without its netlink watcher: only the periodic reconcile can see drift."""

    def watch(self, on_drift: Callable[[], None]) -> None:
        return None


@contextmanager
def running(router: Router, want: list[DesiredRoute], interval: float, *, blind: bool = False) -> Iterator[Reconciler]:
    backend = (Blind if blind else KernelBackend)(proto=PROTO, netns=router.ns)
    rec = Reconciler(backend, load_desired=lambda: list(want), report=router.report, interval=interval)
    rec.start()
    try:
        wait_for(lambda: router.ours() == {d.route for d in want}, timeout=5)
        yield rec
    finally:
        rec.stop()


def break_things(router: Router) -> None:
    """Delete 10 of our routes and add 5 bogus ones with our protocol, out of band."""
    for n in range(10):
        r = route(n)
        router.ip("route", "del", str(r.prefix), "via", str(r.next_hop), "proto", str(PROTO))
    for n in range(5):
        router.ip("route", "add", f"10.244.{100 + n}.0/24", "via", "192.168.1.99", "proto", str(PROTO))


def test_periodic_reconcile_repairs_all_drift_within_one_period(router: Router) -> None:
    want = desired(50)
    with running(router, want, interval=2.0, blind=True) as rec:
        break_things(router)
        took = wait_for(lambda: router.ours() == {d.route for d in want}, timeout=2.0 + 1.5)
        assert router.not_ours() == router.foreign
    assert took <= 3.5
    assert rec.metrics.drift.collect()[0].samples[0].value >= 15


def test_netlink_events_repair_deletions_at_once(router: Router) -> None:
    want = desired(50)
    with running(router, want, interval=600.0):
        break_things(router)
        took = wait_for(lambda: router.ours() == {d.route for d in want}, timeout=1.5)
        assert router.not_ours() == router.foreign
    assert took < 1.5  # the period is 10 minutes: this was the monitor


def test_our_route_clobbered_by_a_foreign_replace_is_detected(router: Router) -> None:
    """Someone runs `ip route replace` over one of our routes with another protocol: we see it at once, and
    since the prefix is now held by a foreign route we report the node failed instead of fighting over it."""
    want = desired(5)
    with running(router, want, interval=600.0):
        router.ip("route", "replace", "10.244.2.0/24", "via", "192.168.1.230", "proto", "static")
        wait_for(lambda: router.reports and router.reports[-1].get("node-2", ("",))[0] == "failed", timeout=1.5)
    assert "10.244.2.0/24 via 192.168.1.230 dev hnt-lan0 proto static" in router.not_ours()


def test_monitor_reports_a_delete_of_ours(router: Router) -> None:
    seen: list[tuple[RouteEvent, KernelRoute | None]] = []
    got = threading.Event()

    def on_event(event: RouteEvent, r: KernelRoute | None) -> None:
        seen.append((event, r))
        if event == "delete":
            got.set()

    router.ip("route", "add", "10.244.1.0/24", "via", "192.168.1.11", "proto", str(PROTO))
    monitor = RouteMonitor(table=254, netns=router.ns, on_event=on_event)
    monitor.start()
    try:
        router.ip("route", "del", "10.244.1.0/24", "proto", str(PROTO))
        assert got.wait(2)
    finally:
        monitor.stop()
    event, seen_route = seen[-1]
    assert event == "delete" and seen_route is not None
    assert seen_route[:4] == (route(1).prefix, route(1).next_hop, PROTO, 254)
