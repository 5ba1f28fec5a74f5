"""The Reconciler against the in-tree FakeBackend: triggers, reports, dry run, drift report, metrics."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Collection
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import get_args

import pytest
from prometheus_client import CollectorRegistry

from hubnet.net import network4, network6
from hubnet.server.domain.routes import ApplyResult, DesiredRoute, NodeRef, Route, RoutePlan
from hubnet.server.routing.backends import BACKENDS, BackendName, make_backend
from hubnet.server.routing.base import NullBackend
from hubnet.server.routing.fake import FakeBackend
from hubnet.server.routing.kernel import is_drift
from hubnet.server.routing.reconciler import Reconciler

States = dict[str, tuple[str, str | None]]


def r(n: int, hop: int = 0) -> Route:
    return Route(IPv4Network(f"10.244.{n}.0/24"), IPv4Address(f"192.168.1.{hop or 10 + n}"))


class World:
    """The database side: a desired list and the route states reported back."""

    def __init__(self, n: int) -> None:
        self.desired = [DesiredRoute(f"node-{i}", r(i)) for i in range(n)]
        self.reports: list[States] = []
        self.loads = 0
        self.broken = False

    def load(self) -> list[DesiredRoute]:
        self.loads += 1
        if self.broken:
            raise RuntimeError("database is down")
        return list(self.desired)

    def report(self, states: dict[NodeRef, tuple[str, str | None]]) -> None:
        """Keeps what was reported by node name (each test's nodes keep one generation and address)."""
        self.reports.append({ref.name: state for ref, state in states.items()})

    def state(self, node: str) -> tuple[str, str | None] | None:
        merged: States = {}
        for report in self.reports:
            merged.update(report)
        return merged.get(node)


def make(world: World, backend: FakeBackend, **kw: object) -> Reconciler:
    return Reconciler(backend, load_desired=world.load, report=world.report, **kw)  # type: ignore[arg-type]


def wait_for(cond: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_startup_sweeps_stale_keeps_live_and_reports_programmed() -> None:
    world, backend = World(3), FakeBackend({r(0), r(7)})
    make(world, backend).reconcile_now("startup")
    assert backend.routes == {r(0), r(1), r(2)}
    assert backend.counts == {"add": 2, "delete": 1, "replace": 0}
    assert world.reports == [{f"node-{i}": ("programmed", None) for i in range(3)}]


def test_no_desired_set_means_nothing_is_touched() -> None:
    world, backend = World(3), FakeBackend({r(0), r(7)})
    world.broken = True
    with pytest.raises(RuntimeError):
        make(world, backend).reconcile_now("startup")
    assert backend.routes == {r(0), r(7)}
    assert backend.plans == []


def test_failed_route_reported_with_error_then_recovers() -> None:
    world, backend = World(2), FakeBackend()
    backend.fail[r(1).prefix] = "Network is unreachable"
    rec = make(world, backend)
    rec.reconcile_now()
    assert world.state("node-1") == ("failed", "Network is unreachable")
    assert world.state("node-0") == ("programmed", None)
    backend.fail.clear()
    world.reports.clear()
    rec.reconcile_now()
    assert world.reports == [{"node-1": ("programmed", None)}]  # only the change is reported


def test_address_change_is_one_replace() -> None:
    world, backend = World(2), FakeBackend()
    rec = make(world, backend)
    rec.reconcile_now()
    world.desired[1] = DesiredRoute("node-1", r(1, 99))
    result = rec.reconcile_now()
    assert (result.plan.add, result.plan.delete, result.plan.replace) == ((), (), (r(1, 99),))
    assert backend.routes == {r(0), r(1, 99)}


def test_dry_run_applies_nothing_and_exposes_the_plan() -> None:
    world, backend = World(2), FakeBackend({r(0), r(9)})
    rec = make(world, backend, dry_run=True)
    result = rec.reconcile_now()
    assert backend.plans == [] and backend.routes == {r(0), r(9)}
    assert result.dry_run and result.plan.add == (r(1),) and result.plan.delete == (r(9),)
    assert rec.pending_plan() == result.plan
    assert world.reports == [{"node-0": ("programmed", None), "node-1": ("pending", None)}]


def test_none_backend_is_a_dry_run() -> None:
    world = World(1)
    rec = Reconciler(NullBackend(), load_desired=world.load, report=world.report)
    assert rec.dry_run and rec.reconcile_now().plan.add == (r(0),)


def test_drift_report() -> None:
    world, backend = World(3), FakeBackend({r(0), r(1, 77), r(9)})
    report = make(world, backend).drift()
    assert {"desired", "actual", "missing", "unexpected"} <= set(report)
    assert report["plan"]["replace"] == [{"prefix": "10.244.1.0/24", "next_hop": "192.168.1.11"}]
    assert report["plan"]["delete"] == [{"prefix": "10.244.9.0/24", "next_hop": "192.168.1.19"}]
    assert report["dry_run"] is False
    assert [x["node"] for x in report["missing"]] == ["node-1", "node-2"]
    assert report["unexpected"] == [
        {"prefix": "10.244.1.0/24", "next_hop": "192.168.1.77"},
        {"prefix": "10.244.9.0/24", "next_hop": "192.168.1.19"},
    ]
    assert len(report["actual"]) == 3 and report["desired"][0] == {
        "prefix": "10.244.0.0/24",
        "next_hop": "192.168.1.10",
        "node": "node-0",
    }


def test_loop_startup_trigger_coalescing_and_drift_watch() -> None:
    world, backend = World(5), FakeBackend()
    registry = CollectorRegistry()
    rec = make(world, backend, interval=60.0, registry=registry)
    rec.start()
    try:
        wait_for(lambda: backend.routes == {r(i) for i in range(5)})
        loads = world.loads
        world.desired.append(DesiredRoute("node-5", r(5)))
        for _ in range(50):  # a burst of commits → few runs, not 50
            rec.trigger()
        wait_for(lambda: r(5) in backend.routes)
        time.sleep(0.1)
        assert world.loads - loads <= 3
        backend.drift(remove={r(2)}, add={r(42)})  # someone ran `ip route del` / `add` behind our back
        wait_for(lambda: backend.routes == {r(i) for i in range(6)})
    finally:
        rec.stop()
    assert backend.closed
    value = registry.get_sample_value
    assert value("hubnet_route_reconcile_runs_total", {"trigger": "startup"}) == 1
    assert value("hubnet_route_reconcile_runs_total", {"trigger": "drift"}) >= 1
    assert value("hubnet_route_drift_repaired_total") == 2
    assert value("hubnet_routes_changed_total", {"action": "add"}) == 7
    assert value("hubnet_routes_changed_total", {"action": "delete"}) == 1
    assert value("hubnet_route_reconcile_duration_seconds_count") >= 3


def test_periodic_reconcile_and_retry_after_failure() -> None:
    world, backend = World(1), FakeBackend()
    world.broken = True
    rec = make(world, backend, interval=0.05)
    rec.start()
    try:
        time.sleep(0.2)
        assert backend.routes == set()  # desired set never loaded: nothing touched
        world.broken = False
        wait_for(lambda: backend.routes == {r(0)})
        backend.routes.clear()  # drift without a notification: the periodic run repairs it
        wait_for(lambda: backend.routes == {r(0)})
    finally:
        rec.stop()
    assert rec.metrics.errors.labels("reconcile")._value.get() >= 1


def test_stop_joins_the_thread() -> None:
    rec = make(World(1), FakeBackend(), interval=60.0)
    rec.start()
    rec.stop()
    assert not any(t.name == "hubnet-reconciler" for t in threading.enumerate())


def test_make_backend() -> None:
    assert make_backend("fake").name == "fake"
    assert make_backend("none").name == "none"
    with pytest.raises(ValueError, match=r"unknown route backend 'bgpx' \(choose kernel, none, fake, bgp\)"):
        make_backend("bgpx")


def test_every_backend_name_has_a_factory() -> None:
    assert tuple(BACKENDS) == get_args(BackendName)  # what the settings accept is what make_backend builds


def test_is_drift_ignores_our_own_changes() -> None:
    from hubnet.linux.routes import KernelRoute
    from hubnet.server.routing.kernel import Known

    known: Known = {r(1).prefix: (r(1).next_hop,)}

    def ev(n: int, hop: int = 0, proto: int = 44) -> KernelRoute:
        return KernelRoute(r(n, hop).prefix, r(n, hop).next_hop, proto, 254)

    assert is_drift("delete", ev(1), proto=44, known=known)  # ours removed behind our back
    assert not is_drift("delete", ev(2), proto=44, known=known)  # our own delete (already forgotten)
    assert not is_drift("delete", ev(1, proto=4), proto=44, known=known)  # a foreign route went away
    assert is_drift("new", ev(5), proto=44, known=known)  # a bogus route with our protocol
    assert not is_drift("new", ev(1), proto=44, known=known)  # our own add
    assert is_drift("replace", ev(1, 50, proto=4), proto=44, known=known)  # ours clobbered by someone
    assert not is_drift("new", ev(3, proto=12), proto=44, known=known)
    assert is_drift("overrun", None, proto=44, known=known)
    # the same for IPv6 routes, in the same known table
    known[r6(1).prefix] = (r6(1).next_hop,)
    v6 = KernelRoute(r6(1).prefix, r6(1).next_hop, 44, 254, 1024)
    assert not is_drift("new", v6, proto=44, known=known)  # our own add
    assert is_drift("delete", v6, proto=44, known=known)  # ours removed behind our back
    assert is_drift("new", v6._replace(next_hop=r6(1, 0x99).next_hop), proto=44, known=known)
    assert is_drift("replace", v6._replace(protocol=4), proto=44, known=known)


@pytest.mark.parametrize(
    ("known", "plan", "after"),
    [
        pytest.param({1: (10,)}, RoutePlan(delete=(r(1, 10),)), {}, id="delete-the-only-hop"),
        pytest.param({1: (10,)}, RoutePlan(delete=(r(1, 11),)), {1: (10,)}, id="delete-another-hop-keeps-ours"),
        pytest.param({1: (10, 11)}, RoutePlan(delete=(r(1, 10),)), {1: (11,)}, id="delete-one-of-two"),
        pytest.param({1: (10,)}, RoutePlan(delete=(r(2, 10),)), {1: (10,)}, id="delete-unknown-prefix"),
        pytest.param({1: (10, 11)}, RoutePlan(replace=(r(1, 12),)), {1: (12,)}, id="replace"),
        pytest.param({1: (10,)}, RoutePlan(add=(r(1, 11), r(2, 10))), {1: (10, 11), 2: (10,)}, id="add"),
        pytest.param(
            {1: (10, 11), 2: (10,)},
            RoutePlan(delete=(r(1, 11), r(2, 10)), replace=(r(1, 12),), add=(r(3, 10),)),
            {1: (12,), 3: (10,)},
            id="all-three",
        ),
    ],
)
def test_expect_records_what_a_plan_leaves(
    known: dict[int, tuple[int, ...]], plan: RoutePlan, after: dict[int, tuple[int, ...]]
) -> None:
    from hubnet.server.routing.kernel import Known, expect

    def table(numbers: dict[int, tuple[int, ...]]) -> Known:  # fresh objects: equal, never the plan's own
        return {r(n).prefix: tuple(r(n, hop).next_hop for hop in hops) for n, hops in numbers.items()}

    record = table(known)
    expect(record, plan)
    assert record == table(after)


class GcProbe(FakeBackend):
    """Records whether the collector was on while routes were being applied."""

    def __init__(self, routes: set[Route]) -> None:
        super().__init__(routes)
        self.seen: dict[str, bool] = {}

    def apply(self, plan: RoutePlan, meanwhile: Callable[[], object] | None = None) -> ApplyResult:
        self.seen["apply"] = gc.isenabled()
        return super().apply(plan, meanwhile)


def test_collector_stays_on_during_database_and_router_io() -> None:
    """The pause is process-wide: request threads must not run without the collector while we wait on the
    database or apply routes."""
    assert gc.isenabled()
    world, backend = World(3), GcProbe({r(7)})
    loads: list[bool] = []

    def load() -> list[DesiredRoute]:
        loads.append(gc.isenabled())
        return world.load()

    rec = Reconciler(backend, load_desired=load, report=world.report)
    rec.reconcile_now()
    rec.drift()
    assert loads == [True, True]
    assert backend.seen == {"apply": True}
    assert gc.isenabled()


# -- both families ---------------------------------------------------------------------------------------------


def r6(n: int, hop: int = 0) -> Route:
    return Route(IPv6Network(f"fd00:10:244:{n:x}::/64"), IPv6Address(f"fd7a:1ab::{hop or 0x10 + n:x}"))


class DualWorld(World):
    """Dual-stack nodes: each has an IPv4 and an IPv6 route, both keyed by its IPv4 (primary) address."""

    def __init__(self, n: int) -> None:
        super().__init__(0)
        v4 = [DesiredRoute(f"node-{i}", r(i), 1, address=str(r(i).next_hop)) for i in range(n)]
        self.desired = v4 + [DesiredRoute(f"node-{i}", r6(i), 1, address=str(r(i).next_hop)) for i in range(n)]
        self.refs: list[set[NodeRef]] = []

    def report(self, states: dict[NodeRef, tuple[str, str | None]]) -> None:
        self.refs.append(set(states))
        super().report(states)


def test_dual_stack_node_is_programmed_only_when_both_routes_are() -> None:
    world, backend = DualWorld(3), FakeBackend()
    backend.fail[r6(1).prefix] = "No route to host"
    backend.fail[r(2).prefix] = "File exists"
    make(world, backend).reconcile_now("startup")
    assert backend.routes == {r(0), r6(0), r(1), r6(2)}
    assert world.state("node-0") == ("programmed", None)
    assert world.state("node-1") == ("failed", "IPv6: No route to host")
    assert world.state("node-2") == ("failed", "IPv4: File exists")
    # one state per node record, keyed by the primary (IPv4) address whatever the route's family
    assert world.refs == [{NodeRef(f"node-{i}", 1, f"192.168.1.{10 + i}") for i in range(3)}]


def test_dual_stack_node_with_both_routes_failed_names_both() -> None:
    world, backend = DualWorld(1), FakeBackend()
    backend.fail = {r(0).prefix: "a", r6(0).prefix: "b"}
    make(world, backend).reconcile_now()
    assert world.state("node-0") == ("failed", "IPv4: a; IPv6: b")


def test_dual_stack_failure_then_repair_reports_programmed() -> None:
    world, backend = DualWorld(2), FakeBackend()
    backend.fail[r6(1).prefix] = "No route to host"
    rec = make(world, backend)
    rec.reconcile_now()
    assert world.state("node-1") == ("failed", "IPv6: No route to host")
    backend.fail.clear()
    rec.reconcile_now()
    assert world.state("node-1") == ("programmed", None) and r6(1) in backend.routes


def test_dual_stack_dry_run_is_pending_while_one_family_is_missing() -> None:
    world, backend = DualWorld(2), FakeBackend({r(0), r6(0), r(1)})
    make(world, backend, dry_run=True).reconcile_now()
    assert world.reports == [{"node-0": ("programmed", None), "node-1": ("pending", None)}]


def test_ipv6_only_node_keeps_the_backends_error_as_is() -> None:
    world, backend = World(0), FakeBackend()
    world.desired = [DesiredRoute("v6only", r6(4), address=str(r6(4).next_hop))]
    backend.fail[r6(4).prefix] = "No route to host"
    make(world, backend).reconcile_now()
    assert world.state("v6only") == ("failed", "No route to host")


def test_drift_report_covers_both_families_ipv4_first() -> None:
    world, backend = DualWorld(2), FakeBackend({r(0), r6(0), r6(1, 0x77), r6(9)})
    backend.foreign_routes = {r(1).prefix: "via 192.168.1.250 proto static table 254"}
    report = make(world, backend).drift()
    assert [x["prefix"] for x in report["desired"]] == [
        "10.244.0.0/24",
        "10.244.1.0/24",
        "fd00:10:244::/64",
        "fd00:10:244:1::/64",
    ]
    assert [(x["node"], x["prefix"]) for x in report["missing"]] == [
        ("node-1", "10.244.1.0/24"),
        ("node-1", "fd00:10:244:1::/64"),
    ]
    assert report["unexpected"] == [
        {"prefix": "fd00:10:244:1::/64", "next_hop": "fd7a:1ab::77"},
        {"prefix": "fd00:10:244:9::/64", "next_hop": "fd7a:1ab::19"},
    ]
    assert [x["prefix"] for x in report["actual"]] == [
        "10.244.0.0/24",
        "fd00:10:244::/64",
        "fd00:10:244:1::/64",
        "fd00:10:244:9::/64",
    ]
    assert report["foreign"] == [{"prefix": "10.244.1.0/24", "holder": "via 192.168.1.250 proto static table 254"}]
    assert report["plan"] == {
        "add": [{"prefix": "10.244.1.0/24", "next_hop": "192.168.1.11"}],
        "replace": [{"prefix": "fd00:10:244:1::/64", "next_hop": "fd7a:1ab::11"}],
        "delete": [{"prefix": "fd00:10:244:9::/64", "next_hop": "fd7a:1ab::19"}],
    }


def test_route_gauges_per_family() -> None:
    registry = CollectorRegistry()
    world, backend = DualWorld(3), FakeBackend({r6(9)})
    world.desired = world.desired[1:]  # node-0 without its IPv4 route: 2 IPv4, 3 IPv6 desired
    make(world, backend, registry=registry).reconcile_now()
    value = registry.get_sample_value
    assert value("hubnet_routes_desired") == 5 and value("hubnet_routes_owned") == 5
    assert value("hubnet_routes_desired_by_family", {"family": "4"}) == 2
    assert value("hubnet_routes_desired_by_family", {"family": "6"}) == 3
    assert value("hubnet_routes_owned_by_family", {"family": "4"}) == 2
    assert value("hubnet_routes_owned_by_family", {"family": "6"}) == 3


def test_route_gauges_count_prefixes_built_as_the_dump_and_the_database_build_them() -> None:
    """The kernel dump and the desired set build networks that keep their hash (subclasses of the stdlib's): a
    restart over a full table still shows every route owned."""
    registry = CollectorRegistry()
    kept4 = [Route(network4(int(r(n).prefix.network_address), 24), r(n).next_hop) for n in range(3)]
    kept6 = Route(network6(int(r6(9).prefix.network_address), 64), r6(9).next_hop)
    world = World(3)
    world.desired = [DesiredRoute(f"node-{n}", route) for n, route in enumerate(kept4)]
    make(world, FakeBackend({*kept4, kept6}), registry=registry).reconcile_now("startup")
    value = registry.get_sample_value
    assert value("hubnet_routes_desired_by_family", {"family": "4"}) == 3
    assert value("hubnet_routes_owned_by_family", {"family": "4"}) == 3  # kept: in place already
    assert value("hubnet_routes_owned_by_family", {"family": "6"}) == 0  # deleted
    assert value("hubnet_routes_owned") == 3 and value("hubnet_routes_desired") == 3


class Withholding(FakeBackend):
    """A backend whose routes are in place but not in effect until `deliver()` (a BGP speaker without a session)."""

    def __init__(self) -> None:
        super().__init__()
        self.delivered = False
        self.synced_calls = 0
        self.owned_at_sync: list[int] = []

    def synced(self, complete: bool = True) -> None:
        self.synced_calls += 1
        self.owned_at_sync.append(len(self.list_owned()))

    def undelivered(self, routes: Collection[Route]) -> dict[IPv4Network | IPv6Network, str]:
        return {} if self.delivered else {route.prefix: "no Established BGP peer" for route in routes}


def test_a_route_in_place_but_not_in_effect_keeps_its_node_pending_with_the_reason() -> None:
    world, backend = World(3), Withholding()
    rec = make(world, backend)
    rec.reconcile_now("startup")
    assert world.state("node-1") == ("pending", "no Established BGP peer")
    assert backend.owned_at_sync == [3]  # told only once the complete table was in place
    backend.delivered = True
    rec.reconcile_now("drift")  # the backend's watcher saw a session come up
    assert world.state("node-1") == ("programmed", None)
    assert backend.synced_calls == 2


def test_dry_run_never_reports_the_table_synced() -> None:
    world, backend = World(2), Withholding()
    make(world, backend, dry_run=True).reconcile_now("startup")
    assert backend.synced_calls == 0


def test_a_node_stored_programmed_stays_programmed_while_a_new_one_waits() -> None:
    """After a controller restart the routers still hold the routes delivered before (graceful restart): only
    routes not yet stored `programmed` are asked about."""
    world, backend = World(2), Withholding()
    world.desired[0] = DesiredRoute("node-0", r(0), state=("programmed", None))
    make(world, backend).reconcile_now("startup")
    assert world.state("node-0") == ("programmed", None)
    assert world.state("node-1") == ("pending", "no Established BGP peer")
