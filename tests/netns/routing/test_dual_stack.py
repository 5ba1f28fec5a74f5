"""The router's table for both families, in a real namespace: a dual-stack node gets `fd00:10:244:N::/64 via <its
IPv6 address>` of protocol 44 beside its IPv4 route; foreign IPv6 routes are never touched; drift of either family
is repaired; a node's route_state is `programmed` only when its routes of both families are."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address, IPv6Address, IPv6Network

import pytest

from hubnet.linux.routes import KernelRoute, RouteEvent, RouteMonitor, RouteOp, RouteTable
from hubnet.server.domain.routes import DesiredRoute, NodeRef, Route
from hubnet.server.routing.kernel import KernelBackend
from hubnet.server.routing.reconciler import Reconciler
from tests.netns.routing.conftest import PROTO, Router, desired_dual, route, route6, wait_for
from tests.netns.routing.test_drift import Blind

pytestmark = pytest.mark.netns


def reconciler(router: Router, want: list[DesiredRoute], **kw: object) -> tuple[Reconciler, KernelBackend]:
    backend = KernelBackend(proto=PROTO, netns=router.ns)
    rec = Reconciler(backend, load_desired=lambda: list(want), report=router.report, **kw)  # type: ignore[arg-type]
    return rec, backend


@contextmanager
def running(router: Router, want: list[DesiredRoute], interval: float = 600.0) -> Iterator[Reconciler]:
    rec, _ = reconciler(router, want, interval=interval)
    rec.start()
    try:
        wait_for(lambda: router.all_ours() == {d.route for d in want}, timeout=5)
        yield rec
    finally:
        rec.stop()


def merged(router: Router) -> dict[str, tuple[str, str | None]]:
    states: dict[str, tuple[str, str | None]] = {}
    for report in router.reports:
        states.update(report)
    return states


def test_dual_stack_nodes_get_one_route_per_family_and_foreign_routes_stay(router6: Router) -> None:
    want = desired_dual(30)
    rec, backend = reconciler(router6, want)
    try:
        result = rec.reconcile_now("startup")
    finally:
        backend.close()
    assert not result.failed
    assert router6.ours6() == {route6(n) for n in range(30)}
    assert router6.ours() == {route(n) for n in range(30)}
    # as iproute2 prints it: the /64 via the node's IPv6 address, our protocol, the kernel's default IPv6 metric
    assert "fd00:10:244:3::/64 via fd7a:1ab::13 dev hnt-lan0 proto 44 metric 1024" in router6.ip("-6", "route")
    assert router6.not_ours() == router6.foreign
    # node-10's prefix is also held by a foreign route at metric 100: both stay
    assert "fd00:10:244:a::/64 via fd7a:1ab::f9 dev hnt-lan0 proto zebra metric 100" in router6.foreign
    assert merged(router6) == {f"node-{n}": ("programmed", None) for n in range(30)}


def test_churn_over_both_families_leaves_foreign_routes_byte_identical(router6: Router) -> None:
    want = desired_dual(20)
    rec, backend = reconciler(router6, want)
    try:
        rec.reconcile_now("startup")
        for cycle in range(30):
            n = cycle % 20
            v6 = next(i for i, d in enumerate(want) if d.node == f"node-{n}" and d.route.family == 6)
            want[v6] = DesiredRoute(f"node-{n}", route6(n, hop=0x100 + cycle), address=want[v6].address)
            if cycle % 10 == 5:  # the node leaves (both routes), then comes back
                gone = [d for d in want if d.node == f"node-{n}"]
                want[:] = [d for d in want if d.node != f"node-{n}"]
                rec.reconcile_now()
                assert not {d.route for d in gone} & router6.all_ours()
                want.extend(gone)
            rec.reconcile_now()
            assert router6.all_ours() == {d.route for d in want}, f"cycle {cycle}"
            assert router6.count_ours("-6") == 20 and router6.count_ours() == 20
            assert router6.not_ours() == router6.foreign, f"foreign routes changed in cycle {cycle}"
    finally:
        backend.close()
    assert backend.counts["replace"] == 27  # every IPv6 move was one replace (the 3 re-joins were adds)


def test_startup_sweeps_stale_ipv6_routes_of_ours_only(router6: Router) -> None:
    for n in range(5):
        router6.ip("-6", "route", "add", str(route6(n).prefix), "via", str(route6(n).next_hop), "proto", str(PROTO))
    router6.ip("-6", "route", "add", "fd00:10:244:99::/64", "via", "fd7a:1ab::99", "proto", str(PROTO))
    want = desired_dual(3)
    rec, backend = reconciler(router6, want)
    try:
        result = rec.reconcile_now("startup")
    finally:
        backend.close()
    assert {r.prefix for r in result.plan.delete} == {
        route6(3).prefix,
        route6(4).prefix,
        IPv6Network("fd00:10:244:99::/64"),
    }
    assert router6.ours6() == {route6(n) for n in range(3)}
    assert router6.not_ours() == router6.foreign


def test_foreign_ipv6_route_at_a_deleted_nodes_prefix_survives(router6: Router) -> None:
    want = desired_dual(5)
    rec, backend = reconciler(router6, want)
    try:
        rec.reconcile_now()
        # same prefix as node-2's IPv6 route, another protocol and metric
        router6.ip(
            "-6", "route", "add", str(route6(2).prefix), "via", "fd7a:1ab::e0", "proto", "static", "metric", "50"
        )
        before = router6.not_ours()
        want[:] = [d for d in want if d.node != "node-2"]
        result = rec.reconcile_now()
    finally:
        backend.close()
    assert {r.prefix for r in result.plan.delete} == {route(2).prefix, route6(2).prefix} and not result.failed
    assert router6.all_ours() == {d.route for d in want}
    assert router6.not_ours() == before
    assert "fd00:10:244:2::/64 via fd7a:1ab::e0 dev hnt-lan0 proto static metric 50" in before


def test_ipv6_prefix_held_by_a_foreign_route_fails_that_node_never_replaced(router6: Router) -> None:
    router6.ip("-6", "route", "add", str(route6(3).prefix), "via", "fd7a:1ab::e3", "proto", "static")
    before = router6.not_ours()
    rec, backend = reconciler(router6, desired_dual(5))
    try:
        result = rec.reconcile_now()
        report = rec.drift()
    finally:
        backend.close()
    assert set(result.failed) == {route6(3).prefix}
    state, error = router6.reports[-1]["node-3"]
    assert state == "failed" and error is not None
    assert error.startswith("IPv6: ") and "foreign route" in error and "fd7a:1ab::e3" in error
    assert route(3) in router6.ours()  # its IPv4 route is in place all the same
    assert router6.reports[-1]["node-4"] == ("programmed", None)
    assert router6.not_ours() == before
    assert report["foreign"] == [{"prefix": str(route6(3).prefix), "holder": "via fd7a:1ab::e3 proto 4 table 254"}]
    assert [row["prefix"] for row in report["missing"]] == [str(route6(3).prefix)]


def test_ipv6_next_hop_not_on_link_fails_the_node_with_the_kernels_error_ipv4_stays(router6: Router) -> None:
    want = desired_dual(3)
    far = IPv6Address("fd7b::5")  # no route to it: the kernel refuses the gateway
    want[-1] = DesiredRoute("node-2", Route(route6(2).prefix, far), address=want[-1].address)
    rec, backend = reconciler(router6, want)
    try:
        result = rec.reconcile_now()
    finally:
        backend.close()
    assert list(result.failed) == [route6(2).prefix]
    state, error = router6.reports[-1]["node-2"]
    assert state == "failed"
    assert error == f"IPv6: failed to add route {route6(2).prefix} via fd7b::5 proto {PROTO}: No route to host"
    assert route(2) in router6.ours()  # the IPv4 route is programmed
    assert route6(2).prefix not in {r.prefix for r in router6.ours6()}
    assert router6.reports[-1]["node-1"] == ("programmed", None)


def test_route_state_over_both_families_is_keyed_by_the_primary_address(router6: Router) -> None:
    """Both routes of a node report onto one record, named by its IPv4 (primary) address, and the node is
    programmed only once both are in the kernel: a dry run shows it pending while the IPv6 one is missing."""
    want = desired_dual(2)
    reported: list[dict[NodeRef, tuple[str, str | None]]] = []
    backend = KernelBackend(proto=PROTO, netns=router6.ns)
    try:
        Reconciler(backend, load_desired=lambda: want, report=reported.append).reconcile_now("startup")
    finally:
        backend.close()
    assert reported == [
        {
            NodeRef("node-0", 0, "192.168.1.10"): ("programmed", None),
            NodeRef("node-1", 0, "192.168.1.11"): ("programmed", None),
        }
    ]
    router6.ip("-6", "route", "del", str(route6(1).prefix), "proto", str(PROTO))
    dry, dry_backend = reconciler(router6, want, dry_run=True)
    try:
        dry.reconcile_now("startup")
    finally:
        dry_backend.close()
    assert router6.reports[-1] == {"node-0": ("programmed", None), "node-1": ("pending", None)}


def test_netlink_events_repair_ipv6_drift_at_once(router6: Router) -> None:
    want = desired_dual(10)
    with running(router6, want):
        for n in range(3):  # deleted behind our back
            router6.ip("-6", "route", "del", str(route6(n).prefix), "via", str(route6(n).next_hop), "proto", str(PROTO))
        router6.ip("-6", "route", "add", "fd00:10:244:77::/64", "via", "fd7a:1ab::77", "proto", str(PROTO))
        router6.ip("-6", "route", "replace", str(route6(5).prefix), "via", "fd7a:1ab::55", "proto", str(PROTO))
        took = wait_for(lambda: router6.all_ours() == {d.route for d in want}, timeout=1.5)
        assert router6.not_ours() == router6.foreign
    assert took < 1.5  # the period is 10 minutes: this was the monitor


def test_periodic_reconcile_repairs_ipv6_drift(router6: Router) -> None:
    want = desired_dual(10)
    backend = Blind(proto=PROTO, netns=router6.ns)  # no netlink watcher: only the period can see the drift
    rec = Reconciler(backend, load_desired=lambda: want, report=router6.report, interval=1.0)
    rec.start()
    try:
        wait_for(lambda: router6.all_ours() == {d.route for d in want}, timeout=5)
        router6.ip("-6", "route", "del", str(route6(4).prefix), "proto", str(PROTO))
        router6.ip("-6", "route", "add", "fd00:10:244:78::/64", "via", "fd7a:1ab::78", "proto", str(PROTO))
        wait_for(lambda: router6.all_ours() == {d.route for d in want}, timeout=3)
    finally:
        rec.stop()
    assert router6.not_ours() == router6.foreign


def test_monitor_sees_ipv6_route_events(router6: Router) -> None:
    seen: list[tuple[RouteEvent, KernelRoute | None]] = []
    got = threading.Event()

    def on_event(event: RouteEvent, r: KernelRoute | None) -> None:
        seen.append((event, r))
        if event == "delete":
            got.set()

    monitor = RouteMonitor(table=254, netns=router6.ns, on_event=on_event)
    monitor.start()
    try:
        router6.ip("-6", "route", "add", str(route6(1).prefix), "via", str(route6(1).next_hop), "proto", str(PROTO))
        router6.ip("-6", "route", "del", str(route6(1).prefix), "proto", str(PROTO))
        assert got.wait(2)
    finally:
        monitor.stop()
    ours = [(e, r[:5]) for e, r in seen if r is not None and r.prefix == route6(1).prefix]
    assert ours == [
        ("new", (route6(1).prefix, route6(1).next_hop, PROTO, 254, 1024)),
        ("delete", (route6(1).prefix, route6(1).next_hop, PROTO, 254, 1024)),
    ]


def test_route_table_ipv6_ops_are_idempotent_and_exact(router6: Router) -> None:
    p, hop = route6(40).prefix, route6(40).next_hop
    router6.ip("-6", "route", "add", "fd00:10:244:41::/64", "via", str(hop), "proto", "static")
    before = router6.not_ours()
    table = RouteTable(proto=PROTO, netns=router6.ns)
    try:
        assert table.apply([RouteOp("add", p, hop)]) == {}
        assert table.apply([RouteOp("add", p, hop)]) == {}  # already there: success
        moved = IPv6Address("fd7a:1ab::41")
        assert table.apply([RouteOp("add", p, moved)]) == {}  # our own route at the prefix: add → replace
        assert [(r.prefix, r.next_hop) for r in table.owned()] == [(p, moved)]
        # the same prefix + next hop as the foreign static route, our protocol: a delete never removes it
        assert table.apply([RouteOp("delete", IPv6Network("fd00:10:244:41::/64"), hop)]) == {}
        assert table.apply([RouteOp("delete", p, moved), RouteOp("delete", p, moved)]) == {}
        assert table.owned() == []
        with pytest.raises(ValueError, match="different families"):
            table.apply([RouteOp("add", p, route(1).next_hop)])
    finally:
        table.close()
    assert router6.not_ours() == before


def test_failures_anywhere_in_a_batch_are_each_reported_both_families(router6: Router) -> None:
    """Only a batch's last message asks for an acknowledgement: a failure in the middle must still be mapped to its
    op, and every op without one must really be in the table."""
    ops: list[RouteOp] = []
    for n in range(40):
        v4, v6 = route(n), route6(n)
        if n % 5 == 2:  # next hops the kernel refuses (not on-link)
            v4, v6 = Route(v4.prefix, IPv4Address("10.99.0.1")), Route(v6.prefix, IPv6Address("fd7b::1"))
        ops += [RouteOp("add", v4.prefix, v4.next_hop), RouteOp("add", v6.prefix, v6.next_hop)]
    table = RouteTable(proto=PROTO, netns=router6.ns, batch=7)
    try:
        failed = table.apply(ops)
    finally:
        table.close()
    assert sorted(failed) == [2 * n + k for n in range(40) if n % 5 == 2 for k in (0, 1)]
    assert "unreachable" in str(failed[4]).lower() and "no route to host" in str(failed[5]).lower()
    # 12 batches went through the sender thread (batch k+1 encoded while the kernel took batch k); it is gone
    assert not [t for t in threading.enumerate() if t.name == "hubnet-netlink-sender"]
    assert router6.ours() == {route(n) for n in range(40) if n % 5 != 2}
    assert router6.ours6() == {route6(n) for n in range(40) if n % 5 != 2}
