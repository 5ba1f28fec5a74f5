"""A node's address change is ONE netlink replace (no delete + add, so the node's pods never lose their route),
as counted by the backend and as the kernel itself announces it to a route monitor."""

from __future__ import annotations

import threading
import time

import pytest

from hubnet.linux.routes import KernelRoute, RouteEvent, RouteMonitor
from hubnet.server.domain.routes import DesiredRoute
from hubnet.server.routing.kernel import KernelBackend
from hubnet.server.routing.reconciler import Reconciler
from tests.netns.routing.conftest import PROTO, Router, desired, route

pytestmark = pytest.mark.netns


def test_address_change_is_one_replace_and_the_old_next_hop_is_gone(router: Router) -> None:
    want = desired(20)
    backend = KernelBackend(proto=PROTO, netns=router.ns)
    rec = Reconciler(backend, load_desired=lambda: list(want), report=router.report)
    events: list[tuple[RouteEvent, KernelRoute | None]] = []
    lock = threading.Lock()

    def on_event(event: RouteEvent, r: KernelRoute | None) -> None:
        with lock:
            events.append((event, r))

    rec.reconcile_now("startup")
    before = dict(backend.counts)
    monitor = RouteMonitor(table=254, netns=router.ns, on_event=on_event)  # subscribes from here on
    monitor.start()
    try:
        want[7] = DesiredRoute("node-7", route(7, hop=177))
        result = rec.reconcile_now()
        time.sleep(0.3)  # let the monitor drain the notifications
    finally:
        monitor.stop()
        backend.close()
    assert result.plan.replace == (route(7, hop=177),) and not result.plan.add and not result.plan.delete
    assert backend.counts["replace"] - before.get("replace", 0) == 1
    assert backend.counts["delete"] == before.get("delete", 0) and backend.counts["add"] == before["add"]
    with lock:
        ours = [(e, r[:4]) for e, r in events if r is not None and r.protocol == PROTO]
    assert ours == [("replace", (route(7).prefix, route(7, hop=177).next_hop, PROTO, 254))]
    shown = router.ip("route", "show", str(route(7).prefix))
    assert "192.168.1.177" in shown and "192.168.1.17 " not in shown
    assert router.not_ours() == router.foreign
