"""The `kernel` route backend: the router's own kernel table through netlink, optionally in a named netns.

Ownership mark: routing-protocol number `HUBNET_ROUTE_PROTO` (default 44, see docs/routing.md) in table
`HUBNET_ROUTE_TABLE` (default 254, main). Only routes carrying both are ever listed, replaced or deleted.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network

from hubnet.linux.routes import KernelRoute, RouteEvent, RouteMonitor, RouteOp, RouteTable
from server.domain.routes import ApplyResult, Route, RoutePlan

log = logging.getLogger("hubnet.routing")

DEFAULT_PROTO = 44  # unused by the kernel, iproute2's rt_protos, FRR (186-198), BIRD (12), Calico (80)
DEFAULT_TABLE = 254  # main

Known = set[tuple[IPv4Network, IPv4Address]]


def is_drift(event: RouteEvent, route: KernelRoute | None, *, proto: int, known: Known) -> bool:
    """Does a netlink notification show one of our routes changed behind our back?

    `known` is what we last listed or programmed, so our own changes (already in `known`) never count.
    """
    if event == "overrun" or route is None:
        return True  # notifications were dropped: anything may have happened
    key = (route.prefix, route.next_hop)
    if event == "delete":
        return route.protocol == proto and key in known
    if event == "new":
        return route.protocol == proto and key not in known
    # "replace": someone swapped the first route of a prefix; drift when that prefix is ours.
    prefixes = {prefix for prefix, _ in known}
    return route.prefix in prefixes and (route.protocol != proto or key not in known)


class KernelBackend:
    """RouteBackend over `hubnet.linux.routes`; thread-safe (one lock around the netlink socket)."""

    name = "kernel"

    def __init__(
        self, *, proto: int = DEFAULT_PROTO, table: int = DEFAULT_TABLE, netns: str | None = None, batch: int = 256
    ) -> None:
        if not 1 <= proto <= 255 or proto in (1, 2, 3, 4):
            raise ValueError(f"route protocol {proto} is reserved (redirect/kernel/boot/static) or out of 1..255")
        self.proto, self.table, self.netns = proto, table, netns
        self._routes = RouteTable(proto=proto, table=table, netns=netns, batch=batch)
        self._lock = threading.Lock()
        self._known: Known = set()
        self._monitor: RouteMonitor | None = None
        self.counts: Counter[str] = Counter()  # routes added / replaced / deleted by this backend (tests, bench)

    def list_owned(self) -> list[Route]:
        with self._lock:
            owned = self._routes.owned()
            self._known = {(r.prefix, r.next_hop) for r in owned}
        return [Route(r.prefix, r.next_hop) for r in owned]

    def apply(self, plan: RoutePlan) -> ApplyResult:
        """Deletes first (duplicates of a prefix go before its replace), then replaces, then adds."""
        ops = [RouteOp("delete", r.prefix, r.next_hop) for r in plan.delete]
        ops += [RouteOp("replace", r.prefix, r.next_hop) for r in plan.replace]
        ops += [RouteOp("add", r.prefix, r.next_hop) for r in plan.add]
        with self._lock:
            self._expect(plan)  # before sending: the monitor must not mistake our own changes for drift
            failures = self._routes.apply(ops)
        for i, op in enumerate(ops):
            if i not in failures:
                self.counts[op.action] += 1
        return ApplyResult(failed={ops[i].prefix: str(err) for i, err in failures.items()})

    def _expect(self, plan: RoutePlan) -> None:
        moved = {r.prefix for r in plan.replace}
        self._known = {k for k in self._known if k[0] not in moved} - {(r.prefix, r.next_hop) for r in plan.delete}
        self._known |= {(r.prefix, r.next_hop) for r in (*plan.replace, *plan.add)}

    def watch(self, on_drift: Callable[[], None]) -> None:
        """Subscribe to route notifications in the router's namespace; `on_drift` runs on the monitor thread."""
        if self._monitor is not None:
            return

        def on_event(event: RouteEvent, route: KernelRoute | None) -> None:
            if is_drift(event, route, proto=self.proto, known=self._known):
                log.info("route drift seen: %s %s", event, route)
                on_drift()

        self._monitor = RouteMonitor(table=self.table, netns=self.netns, on_event=on_event)
        self._monitor.start()

    def close(self) -> None:
        if self._monitor is not None:
            self._monitor.stop()
            self._monitor = None
        with self._lock:
            self._routes.close()
