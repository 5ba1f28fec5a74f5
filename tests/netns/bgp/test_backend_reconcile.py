"""The bgp route backend under the real reconciler, with gobgpd and a BIRD router: the table first, then the peer;
readiness once a session took the routes; drift repaired; a crashed speaker restarted by the next reconcile, the
router keeping every route meanwhile and losing only the one deleted while the speaker was down."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator

import pytest

from hubnet.server.bgp.backend import BgpBackend
from hubnet.server.bgp.speaker import Speaker
from hubnet.server.domain.routes import DesiredRoute, NodeRef
from hubnet.server.routing.reconciler import Reconciler
from tests.netns.bgp.conftest import (
    ESTABLISH,
    Routers,
    RouteWatch,
    Speakers,
    as_table,
    kernel,
    peer,
    route4,
    route6,
    wait_for,
)

pytestmark = pytest.mark.netns


class Controller:
    """The parts of the controller around the backend: a desired set, the reconciler, the drift triggers."""

    def __init__(self, backend: BgpBackend, nodes: int) -> None:
        self.backend = backend
        self.desired = [DesiredRoute(f"node-{n}", r) for n in range(1, nodes + 1) for r in (route4(n), route6(n))]
        self.reports: list[dict[NodeRef, tuple[str, str | None]]] = []
        self.reconciler = Reconciler(backend, load_desired=lambda: list(self.desired), report=self.reports.append)
        self.drifts: list[str] = []  # one entry per on_drift call
        backend.watch(lambda: self.drifts.append(threading.current_thread().name))

    def reconcile(self) -> None:
        """What the lead's reconciler does: reconcile, then tell the backend the table is complete."""
        result = self.reconciler.reconcile_now("test")
        assert not result.failed
        self.backend.synced()


@pytest.fixture
def controller(speakers: Speakers) -> Iterator[Controller]:
    speaker = Speaker(speakers.config())
    speakers.started.append(speaker)  # stopped after the test whatever happens
    made = Controller(BgpBackend(speaker), nodes=10)
    yield made
    made.backend.close()


def test_table_then_peer_readiness_drift_and_a_crashed_speaker(
    routers: Routers, controller: Controller, watch: Callable[[str], RouteWatch]
) -> None:
    r = routers.start("bird")
    backend = controller.backend
    backend.set_peers([peer(1)])
    routes = [d.route for d in controller.desired]
    controller.reconcile()  # starts gobgpd, loads the 20 routes, then adds the peer
    assert sorted(backend.speaker.paths()) == sorted(routes)  # type: ignore[attr-defined]
    assert backend.undelivered(routes) != {}  # no session yet
    wait_for(lambda: kernel(r) == as_table(routes), ESTABLISH, "the table at the router")
    # Established woke the reconciler, and again after GoBGP's graceful-restart deferral (readiness re-read)
    wait_for(lambda: len(controller.drifts) >= 2, 10, "two drift triggers after Established")
    wait_for(lambda: backend.undelivered(routes) == {}, 10, "every route delivered")

    speaker = backend.speaker
    assert isinstance(speaker, Speaker)
    speaker.delete([route4(4)])  # behind our back
    wait_for(lambda: str(route4(4).prefix) not in kernel(r), 10, "the path deleted behind our back to go")
    controller.reconcile()
    wait_for(lambda: kernel(r) == as_table(routes), 10, "the drift repaired")

    monitor = watch(r.netns)
    pid = speaker.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not speaker.running, 5, "gobgpd to die")
    gone = controller.desired.pop()  # node 10's IPv6 route, deleted while the speaker was down
    kept = [d.route for d in controller.desired]
    before = len(controller.drifts)
    controller.reconcile()  # restarts gobgpd, re-loads the table, re-adds the peer (Restart State + F bits)
    assert controller.drifts[before:] == [threading.current_thread().name]  # the restart woke the reconciler
    wait_for(lambda: kernel(r) == as_table(kept), ESTABLISH, f"{gone.route.prefix} withdrawn after the restart")
    assert monitor.deleted({str(x.prefix) for x in kept}) == []  # nothing else ever left the router's kernel
    wait_for(lambda: backend.undelivered(kept) == {}, 10, "still delivered")
