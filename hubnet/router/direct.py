"""Direct mode's peer routes (HUBNET_MODE=direct, docs/routing.md "Direct mode"): the node agent follows the same
desired-route feed as a router agent and programs, in its own namespace, one route per OTHER node's subnet via that
node's address — the router agent's parts, reused: the `Follower` (no join: the node is registered already, its own
secret reads the feed), a `DesiredTable` without the node's own entry, the `Programmer` over the `KernelBackend`
(the controller's protocol number only, batched netlink, drift repair, never a foreign route).

The node agent (`hubnet.node`) does not import this floor: `hubnet.cli.node` hands it `DirectRoutes.factory`, which
satisfies `hubnet.node.agent.peers.PeerRoutes`.

Switching hub → direct keeps the node's cluster route (`keep`) in the desired set until the first reconcile that put
every peer route in place, then drops it (the next reconcile deletes it): peers first, then the cluster route.
Direct → hub: the agent stops this (routes stay), installs its cluster route, then `withdraw` deletes the peer routes.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Collection, Sequence
from typing import Any

from hubnet.net import Address, Network
from hubnet.node.agent.client import ControllerClient
from hubnet.router.api import RouterApi
from hubnet.router.config import LONG_POLL
from hubnet.router.follower import Follower
from hubnet.router.programmer import Programmer
from hubnet.router.report import ReportBook
from hubnet.router.table import DesiredTable
from hubnet.server.domain.routes import DesiredRoute, Route, RoutePlan
from hubnet.server.routing.base import RouteBackend

log = logging.getLogger("hubnet.node.direct")
CONNECT_TIMEOUT = 3.0
KEEP = "(cluster route)"  # the node name the kept cluster routes report under (never a valid node name)


class PeerTable(DesiredTable):
    """The desired table without the node's own entry, plus the routes kept until the first complete reconcile."""

    def __init__(self, own: str, keep: Sequence[Route] = ()) -> None:
        super().__init__()
        self.own = own
        self._keep = [DesiredRoute(KEEP, route) for route in keep]

    @property
    def keeping(self) -> bool:
        return bool(self._keep)

    def release(self) -> None:
        self._keep = []

    def snapshot(self) -> tuple[int, list[DesiredRoute]]:
        revision, desired = super().snapshot()
        return revision, [d for d in desired if d.node != self.own] + self._keep


class DirectRoutes:
    """`hubnet.node.agent.peers.PeerRoutes` over the router agent's follower and programmer."""

    def __init__(
        self,
        *,
        name: str,
        secret: str,
        controllers: Sequence[str],
        proto: int,
        keep: Sequence[tuple[Network, Address]] = (),
        ca_file: str | None = None,
        table: int = 254,
        interval: float = 10.0,
        long_poll: int = LONG_POLL,
        on_change: Callable[[], None] = lambda: None,
        backend_factory: Callable[[], RouteBackend] | None = None,
        client: ControllerClient | None = None,
    ) -> None:
        self.proto, self.route_table, self.on_change = proto, table, on_change
        self.table = PeerTable(name, [Route(prefix, hop) for prefix, hop in keep])
        self.book = ReportBook()
        client = client or ControllerClient(list(controllers), timeout=CONNECT_TIMEOUT, ca_file=ca_file)
        self.api = RouterApi(client, name=name, secret=secret)
        backend = backend_factory() if backend_factory else self._kernel()
        self.programmer = Programmer(backend, self.table, self.book, interval=interval, on_report=self._reconciled)
        self.follower = Follower(
            self.api, self.table, token=None, on_update=self.programmer.update, long_poll=long_poll
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.follower.run, args=(self._stop,), name="hubnet-direct-feed")
        self._thread.daemon = True  # a long-poll in progress cannot be interrupted
        self._ready = False

    @classmethod
    def factory(cls, controllers: Sequence[str], ca_file: str | None) -> Callable[..., DirectRoutes]:
        """What `hubnet.cli.node` hands the node agent: `factory(name=, secret=, proto=, keep=, on_change=)`."""
        return functools.partial(cls, controllers=controllers, ca_file=ca_file)

    def start(self) -> None:
        log.info("direct mode: following the route feed for the routes to the other nodes")
        self._thread.start()

    def ready(self) -> tuple[bool, str]:
        """True once the whole table was read and the last reconcile put every peer route in place."""
        tally = self.book.tally
        if not self.table.loaded:
            return False, "direct mode: the route feed has not been read in full yet"
        if tally is None:
            return False, "direct mode: the peer routes are not programmed yet"
        if not tally.complete:
            return False, f"direct mode: peer routes incomplete: {tally.error}"
        return True, "ready"

    def report(self) -> dict[str, Any] | None:
        """The heartbeat's summary (`bridge.direct`): routes of ours, routes the kernel refused, why."""
        tally = self.book.tally
        if tally is None:
            return None
        failed = tally.missing + tally.unexpected
        return {"routes": tally.route_count, "failed": failed, "error": tally.error}

    def stop(self) -> None:
        """Stop following and reconciling; the routes stay in place."""
        self._stop.set()
        self.programmer.stop()
        self._thread.join(timeout=0.5)
        if not self._thread.is_alive():
            self.api.close()

    def withdraw(self, keep: Collection[Network]) -> int:
        """Delete every route of ours (this protocol, this table) whose prefix is not in `keep` (the cluster
        routes): direct → hub, after the cluster route is in place. Returns how many could not be deleted."""
        return withdraw(self.proto, self.route_table, keep)

    def _reconciled(self) -> None:
        """After every reconcile: drop the kept cluster routes once the peers are complete; tell the agent when the
        readiness flips."""
        tally = self.book.tally
        if self.table.keeping and tally is not None and tally.complete:
            log.info("direct mode: every peer route is in place; removing the cluster route via the router")
            self.table.release()
            self.programmer.trigger("change")
        ready = self.ready()[0]
        if ready != self._ready:
            self._ready = ready
            self.on_change()

    def _kernel(self) -> RouteBackend:
        from hubnet.server.routing.kernel import KernelBackend

        return KernelBackend(proto=self.proto, table=self.route_table)


def withdraw(proto: int, table: int, keep: Collection[Network], backend: RouteBackend | None = None) -> int:
    """One-shot: delete our routes (proto, table) whose prefix is not in `keep`; the number that failed."""
    if backend is None:
        from hubnet.server.routing.kernel import KernelBackend

        backend = KernelBackend(proto=proto, table=table)
    try:
        gone = [r for r in backend.list_owned() if r.prefix not in keep]
        if not gone:
            return 0
        result = backend.apply(RoutePlan(delete=tuple(gone)))
        if result.failed:
            log.error("direct mode: %d peer route(s) could not be removed: %s", len(result.failed), result.failed)
        return len(result.failed)
    finally:
        backend.close()
