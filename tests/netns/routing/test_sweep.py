"""A full run deletes the routes no desired route claims while it reads the table (`RouteTable.sweep`): they go,
every other route of ours and every foreign route stays as it was, the plan still lists each delete, and the sweep's
own deletes never read as drift."""

from __future__ import annotations

import threading
import time
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from pathlib import Path

import pytest

from hubnet.linux.routes import SWEEP_BATCH
from hubnet.server.domain.routes import Route
from hubnet.server.routing.kernel import KernelBackend
from hubnet.server.routing.reconciler import Reconciler
from tests.netns.routing.conftest import PROTO, Router, desired_dual, route, route6, wait_for

pytestmark = pytest.mark.netns

STALE4 = 3000  # more than the sweep's first two writes (1,024, then 2,048): three writes, numbered apart
STALE6 = 700


def stale4(n: int) -> Route:
    """Stale IPv4 route n: 10.100.0.0/16 cut into /24s (nothing desired there)."""
    return Route(IPv4Network((int(IPv4Address("10.100.0.0")) + (n << 8), 24)), IPv4Address(f"192.168.1.{20 + n % 200}"))


def stale6(n: int) -> Route:
    """Stale IPv6 route n: /64s of fd00:99::/48."""
    prefix = IPv6Network((int(IPv6Address("fd00:99::")) + (n << 64), 64))
    return Route(prefix, IPv6Address(f"fd7a:1ab::{0x20 + n % 200:x}"))


def program(router: Router, routes: list[Route], tmp: Path) -> None:
    """Add `routes` with our protocol through `ip -batch` (out of band, as an earlier controller left them)."""
    batch = tmp / "stale.batch"
    batch.write_text("".join(f"route add {r.prefix} via {r.next_hop} proto {PROTO}\n" for r in routes))
    router.ip("-batch", str(batch))


def sweepers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "hubnet-netlink-sweep"]


def test_a_start_up_run_sweeps_stale_routes_of_both_families_and_keeps_everything_else(
    router6: Router, tmp_path: Path
) -> None:
    want = desired_dual(30)
    stale = [stale4(n) for n in range(STALE4)] + [stale6(n) for n in range(STALE6)]
    # ours at wanted prefixes: 5 via a wrong next hop (replaced), one duplicate beside the right one (deleted)
    kept = [route(n, hop=200) for n in range(5)] + [route(7), route6(3, hop=0x99)]
    program(router6, [*stale, *kept], tmp_path)
    router6.ip("route", "append", str(route(8).prefix), "via", str(route(8).next_hop), "proto", str(PROTO))
    router6.ip("route", "append", str(route(8).prefix), "via", "192.168.1.201", "proto", str(PROTO))
    # a foreign route at a stale prefix: the sweep deletes by (prefix, next hop, our protocol), never it
    router6.ip("route", "append", str(stale4(5).prefix), "via", str(stale4(5).next_hop), "proto", "static")
    foreign = router6.not_ours()
    backend = KernelBackend(proto=PROTO, netns=router6.ns)
    rec = Reconciler(backend, load_desired=lambda: list(want), report=router6.report)
    try:
        result = rec.reconcile_now("startup")
    finally:
        backend.close()
    assert result.failed == {}
    assert router6.all_ours() == {d.route for d in want}
    assert router6.not_ours() == foreign  # the static route at 10.100.5.0/24 included
    assert any(line.startswith(f"{stale4(5).prefix} via") and "proto static" in line for line in foreign.splitlines())
    gone = {r.prefix for r in stale}
    assert {r.prefix for r in result.plan.delete} == gone | {route(8).prefix}  # the plan still lists every delete
    assert backend.counts["delete"] == len(stale) + 1
    assert {r.prefix for r in result.plan.replace} == {route(n).prefix for n in range(5)} | {route6(3).prefix}
    assert {state for report in router6.reports for state in report.values()} == {("programmed", None)}
    assert sweepers() == []


def test_a_listing_whose_run_never_applies_still_finishes_its_deletes(router: Router, tmp_path: Path) -> None:
    """The reconciler raised between the listing and the apply: the deletes in flight are joined by the next
    listing or by close(), never left to a stray thread, and what they deleted is gone."""
    count = SWEEP_BATCH + 500
    stale = [stale4(n) for n in range(count)]
    program(router, stale, tmp_path)
    backend = KernelBackend(proto=PROTO, netns=router.ns)
    try:
        listed = backend.list_owned(keep=set())
        assert len(listed) == count  # listed all the same
        again = backend.list_owned()  # joins the first listing's deletes before it reads
        assert again == []
        assert sweepers() == []
    finally:
        backend.close()
    assert router.count_ours() == 0
    assert router.not_ours() == router.foreign


def test_the_sweeps_own_deletes_are_not_drift_but_an_operators_are(router: Router, tmp_path: Path) -> None:
    program(router, [route(n) for n in range(20)] + [stale4(n) for n in range(3000)], tmp_path)
    backend = KernelBackend(proto=PROTO, netns=router.ns)
    drift: list[float] = []

    class Dawdling(set[IPv4Network | IPv6Network]):
        """The wanted prefixes; dawdles once, after the first write of deletes went out: the monitor reads their
        notifications while the listing (and the record it replaces) is still in progress."""

        asked = 0

        def __contains__(self, prefix: object) -> bool:
            self.asked += 1
            if self.asked == 2000:
                time.sleep(0.5)
            return super().__contains__(prefix)

    keep = Dawdling(route(n).prefix for n in range(20))
    try:
        backend.list_owned()  # the record holds the stale routes: their deletes are what a monitor would flag
        backend.watch(lambda: drift.append(time.monotonic()))
        listed = backend.list_owned(keep=keep)
        assert len(listed) == 3020
        time.sleep(0.5)  # the kernel's notifications of the 3,000 deletes have been read
        assert drift == []
        assert router.ours() == {route(n) for n in range(20)}
        router.ip("route", "del", str(route(3).prefix), "via", str(route(3).next_hop), "proto", str(PROTO))
        wait_for(lambda: bool(drift), timeout=5)
    finally:
        backend.close()
