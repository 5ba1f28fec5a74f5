"""Ownership: the kernel backend only ever touches routes with our protocol number; everything else is left
byte-identical, as `ip route show table all` prints it."""

from __future__ import annotations

import os
from ipaddress import IPv4Address

import pytest

from hubnet.linux.errors import NotFound
from hubnet.server.domain.routes import DesiredRoute, Route
from hubnet.server.routing.kernel import KernelBackend
from hubnet.server.routing.reconciler import Reconciler
from tests.netns.routing.conftest import PROTO, Router, desired, route, wait_for

pytestmark = pytest.mark.netns


def reconciler(router: Router, want: list[DesiredRoute], **kw: object) -> tuple[Reconciler, KernelBackend]:
    backend = KernelBackend(proto=PROTO, netns=router.ns)
    rec = Reconciler(backend, load_desired=lambda: list(want), report=router.report, **kw)  # type: ignore[arg-type]
    return rec, backend


def test_100_cycles_with_50_nodes_leave_foreign_routes_byte_identical(router: Router) -> None:
    want = desired(50)
    rec, backend = reconciler(router, want)
    try:
        rec.reconcile_now("startup")
        for cycle in range(100):
            # churn so that most cycles really apply something: a node moves, one leaves, one (re)joins
            n = cycle % 50
            want[n] = DesiredRoute(f"node-{n}", route(n, hop=100 + cycle // 50))
            if cycle % 10 == 5:
                gone = want.pop(n)
                rec.reconcile_now()
                assert gone.route not in router.ours()
                want.insert(n, gone)
            rec.reconcile_now()
            assert router.ours() == {d.route for d in want}, f"cycle {cycle}"
            assert router.count_ours() == 50
            assert router.not_ours() == router.foreign, f"foreign routes changed in cycle {cycle}"
    finally:
        backend.close()
    assert backend.counts["replace"] == 90  # every move was one replace (the 10 re-joins were adds)
    assert backend.counts["add"] == 50 + 10 and backend.counts["delete"] == 10
    merged: dict[str, tuple[str, str | None]] = {}
    for report in router.reports:  # changes only after the first run: the latest state of every node
        merged.update(report)
    assert merged == {f"node-{n}": ("programmed", None) for n in range(50)}


def test_foreign_route_for_a_deleted_nodes_prefix_survives(router: Router) -> None:
    want = desired(10)
    rec, backend = reconciler(router, want)
    try:
        rec.reconcile_now()
        # same prefix as node-5 / node-6 / node-7: another next hop, another protocol, another metric
        router.ip("route", "append", "10.244.5.0/24", "via", "192.168.1.250", "proto", "static")
        router.ip("route", "append", "10.244.6.0/24", "via", "192.168.1.16", "proto", "bird")
        router.ip("route", "add", "10.244.7.0/24", "via", "192.168.1.251", "proto", "zebra", "metric", "100")
        before = router.not_ours()
        del want[5:8]
        result = rec.reconcile_now()
        assert len(result.plan.delete) == 3 and not result.failed
    finally:
        backend.close()
    assert router.ours() == {d.route for d in want}
    assert router.not_ours() == before
    assert "10.244.5.0/24 via 192.168.1.250 dev hnt-lan0 proto static" in before
    assert "10.244.6.0/24 via 192.168.1.16 dev hnt-lan0 proto bird" in before


def test_prefix_held_by_a_foreign_route_is_reported_failed_never_replaced(router: Router) -> None:
    router.ip("route", "add", "10.244.3.0/24", "via", "192.168.1.240", "proto", "static")
    before = router.not_ours()
    rec, backend = reconciler(router, desired(5))
    try:
        result = rec.reconcile_now()
    finally:
        backend.close()
    assert set(result.failed) == {route(3).prefix}
    state, error = router.reports[-1]["node-3"]
    assert state == "failed" and error is not None and "foreign route" in error and "192.168.1.240" in error
    assert router.reports[-1]["node-4"] == ("programmed", None)
    assert router.not_ours() == before
    assert router.count_ours() == 4


def test_unreachable_next_hop_fails_that_node_only(router: Router) -> None:
    want = [*desired(3), DesiredRoute("far", Route(route(9).prefix, IPv4Address("10.99.0.1")))]
    rec, backend = reconciler(router, want)
    try:
        result = rec.reconcile_now()
    finally:
        backend.close()
    assert list(result.failed) == [route(9).prefix]
    assert router.reports[-1]["far"][0] == "failed"
    assert "unreachable" in (router.reports[-1]["far"][1] or "").lower()
    assert router.count_ours() == 3


def test_missing_router_netns_is_a_clear_error_and_is_not_created() -> None:
    name = "hnt-no-such-router"
    with pytest.raises(NotFound, match=f"failed to open netns '{name}'"):
        KernelBackend(proto=PROTO, netns=name)
    assert not os.path.exists(f"/var/run/netns/{name}")


def test_reserved_protocol_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="reserved"):
        KernelBackend(proto=3)


def test_named_router_netns(named_router: Router) -> None:
    """HUBNET_ROUTER_NETNS as a name under /var/run/netns (how the lab runs it): program, repair, withdraw."""
    want = desired(10)
    rec, _ = reconciler(named_router, want, interval=600.0)
    rec.start()
    try:
        wait_for(lambda: named_router.ours() == {d.route for d in want}, timeout=5)
        named_router.ip("route", "del", str(route(3).prefix), "proto", str(PROTO))
        wait_for(lambda: route(3) in named_router.ours(), timeout=1.5)  # the netlink event, not the period
        del want[5:]
        rec.trigger()
        wait_for(lambda: named_router.count_ours() == 5, timeout=5)
    finally:
        rec.stop()
    assert named_router.not_ours() == named_router.foreign
