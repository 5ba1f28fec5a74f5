"""Direct mode's peer routes (hubnet/router/direct.py) over the in-memory controllers and the FakeBackend: the node's
own entry is never programmed, readiness waits for the first complete reconcile, the kept cluster route goes only
once every peer route is in place, a refused route shows in the heartbeat summary, `withdraw` keeps what it is told."""

from __future__ import annotations

import time
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network

from hubnet.router.direct import DirectRoutes, PeerTable, withdraw
from hubnet.router.feed import FeedEntry, RouteFeed
from hubnet.server.domain.routes import Route
from hubnet.server.routing.fake import FakeBackend
from tests.unit.router.fakes import FakeControllers

SECRET = "n1-secret-" + "x" * 40
CLUSTER = Route(IPv4Network("10.244.0.0/16"), IPv4Address("192.168.1.1"))


def r(n: int) -> Route:
    return Route(IPv4Network(f"10.244.{n}.0/24"), IPv4Address(f"192.168.1.{10 + n}"))


def wait_for(cond: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.01)


def _peers(fake: FakeControllers, backend: FakeBackend, **kw: object) -> DirectRoutes:
    fake.routers["n1"] = SECRET  # the fake's feed accepts this secret (the controller: a node's, in direct mode)
    return DirectRoutes(
        name="n1",
        secret=SECRET,
        controllers=["http://ctl"],
        proto=44,
        client=fake.client(),
        backend_factory=lambda: backend,
        interval=0.2,
        long_poll=1,
        **kw,  # type: ignore[arg-type]
    )


def test_the_peer_table_leaves_the_node_itself_out_and_adds_what_it_keeps() -> None:
    table = PeerTable("n1", keep=[CLUSTER])
    table.apply(RouteFeed(3, True, (FeedEntry("n1", 1, (r(1),)), FeedEntry("n2", 1, (r(2),)))))
    revision, desired = table.snapshot()
    assert revision == 3 and {d.route for d in desired} == {r(2), CLUSTER}
    assert table.keeping
    table.release()
    assert {d.route for d in table.snapshot()[1]} == {r(2)} and not table.keeping


def test_peers_are_programmed_ready_follows_and_the_cluster_route_goes_last() -> None:
    fake = FakeControllers()
    for n in (1, 2, 3):
        fake.set_node(f"n{n}", f"10.244.{n}.0/24 via 192.168.1.{10 + n}")
    backend = FakeBackend({CLUSTER})
    changes: list[bool] = []
    peers = _peers(fake, backend, keep=[(CLUSTER.prefix, CLUSTER.next_hop)], on_change=lambda: changes.append(True))
    assert peers.ready() == (False, "direct mode: the route feed has not been read in full yet")
    peers.start()
    try:
        wait_for(lambda: peers.ready()[0])
        wait_for(lambda: backend.routes == {r(2), r(3)})  # the cluster route deleted after the peers were in
        first_with_peers = next(i for i, p in enumerate(backend.plans) if p.add)
        assert CLUSTER not in backend.plans[first_with_peers].delete  # not in the same run as the adds
        assert changes  # the agent was told at once
        fake.set_node("n4", "10.244.4.0/24 via 192.168.1.14")
        wait_for(lambda: r(4) in backend.routes)
        assert peers.report() == {"routes": 3, "failed": 0, "error": None}
    finally:
        peers.stop()


def test_a_refused_route_keeps_the_node_not_ready_and_is_reported() -> None:
    fake = FakeControllers()
    fake.set_node("n1", "10.244.1.0/24 via 192.168.1.11")
    fake.set_node("n2", "10.244.2.0/24 via 192.168.1.12")
    backend = FakeBackend()
    backend.fail[r(2).prefix] = "Network is unreachable"
    peers = _peers(fake, backend)
    peers.start()
    try:
        wait_for(lambda: peers.report() is not None)
        ready, reason = peers.ready()
        assert not ready and "10.244.2.0/24: Network is unreachable" in reason
        report = peers.report()
        assert report is not None and report["failed"] == 1 and "unreachable" in str(report["error"])
    finally:
        peers.stop()


def test_withdraw_deletes_ours_except_what_it_keeps() -> None:
    backend = FakeBackend({CLUSTER, r(2), r(3)})
    assert withdraw(44, 254, [CLUSTER.prefix], backend=backend) == 0
    assert backend.routes == {CLUSTER} and backend.closed
