"""The `kernel` route backend: the router's own kernel table through netlink, optionally in a named netns.

Ownership mark: routing-protocol number `HUBNET_ROUTE_PROTO` (default `hubnet.linux.ROUTE_PROTO`, 44) in table
`HUBNET_ROUTE_TABLE` (default 254, main), in the IPv4 and the IPv6 table alike. Only routes carrying both are ever
listed, replaced or deleted.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections import Counter
from collections.abc import Callable, Collection, Container, Sequence
from ipaddress import IPv4Network
from operator import attrgetter

from hubnet.linux import ROUTE_PROTO
from hubnet.linux.errors import LinuxError
from hubnet.linux.routes import (
    KernelRoute,
    RouteEvent,
    RouteMonitor,
    RouteTable,
    Runs,
    Sweep,
    no_gateway,
    spread,
)
from hubnet.net import Address, Network
from hubnet.server.domain.routes import ApplyResult, Route, RoutePlan
from hubnet.server.domain.routes import new_route as _new_route
from hubnet.server.routing.base import RESERVED_PROTOS
from hubnet.server.routing.gcpause import gc_paused

log = logging.getLogger("hubnet.routing")

DEFAULT_TABLE = 254  # main
_PREFIX = attrgetter("prefix")

# What we last listed or programmed: prefix → next hops. Tuples, not sets: hashing an IPv6 address formats it as
# hex, and a prefix almost always has exactly one next hop.
Known = dict[Network, tuple[Address, ...]]


def is_drift(event: RouteEvent, route: KernelRoute | None, *, proto: int, known: Known) -> bool:
    """Does a netlink notification show one of our routes changed behind our back?

    `known` is what we last listed or programmed, so our own changes (already in `known`) never count.
    """
    if event == "overrun" or route is None:
        return True  # notifications were dropped: anything may have happened
    hops = known.get(route.prefix)
    if event == "delete":
        return route.protocol == proto and hops is not None and route.next_hop in hops
    if event == "new":
        return route.protocol == proto and (hops is None or route.next_hop not in hops)
    # "replace": someone swapped the first route of a prefix; drift when that prefix is ours.
    return hops is not None and (route.protocol != proto or route.next_hop not in hops)


def _know(known: Known, prefix: Network, hop: Address) -> None:
    """Add `hop` to the next hops known at `prefix` (one dictionary lookup in the common, first-hop case)."""
    new = (hop,)
    hops = known.setdefault(prefix, new)
    if hops is not new and hop not in hops:
        known[prefix] = (*hops, hop)


def expect(known: Known, plan: RoutePlan) -> None:
    """Record in `known` what `plan` will leave: its deletes' next hops forgotten (a prefix without any left goes),
    each replaced prefix down to the replace's next hop, the adds' next hops added."""
    for route in plan.delete:
        prefix, gone = route.prefix, route.next_hop
        hops = known.get(prefix)
        if hops is None:
            continue
        if len(hops) == 1 and (hops[0] is gone or hops[0] == gone):  # the common case, without a generator
            del known[prefix]
            continue
        left = tuple(hop for hop in hops if hop != gone)
        if left:
            known[prefix] = left
        else:
            del known[prefix]
    for route in plan.replace:
        known[route.prefix] = (route.next_hop,)
    get = known.get
    for route in plan.add:  # `_know` inlined: a start-up run adds 65,536
        prefix, hop = route.prefix, route.next_hop
        hops = get(prefix)
        if hops is None:
            known[prefix] = (hop,)
        elif hop not in hops:
            known[prefix] = (*hops, hop)


class KernelBackend:
    """RouteBackend over `hubnet.linux.routes`; thread-safe (one lock around the netlink socket)."""

    name = "kernel"

    def __init__(
        self, *, proto: int = ROUTE_PROTO, table: int = DEFAULT_TABLE, netns: str | None = None, batch: int = 2048
    ) -> None:
        if not 1 <= proto <= 255 or proto in RESERVED_PROTOS:
            raise ValueError(f"route protocol {proto} is reserved (redirect/kernel/boot/static) or out of 1..255")
        self.proto, self.table, self.netns = proto, table, netns
        self._routes = RouteTable(proto=proto, table=table, netns=netns, batch=batch)
        self._lock = threading.Lock()
        self._known: Known = {}
        self._listed = False  # `_known` holds a full listing (plus what we applied since)
        self._sweep: Sweep | None = None  # deletes the last listing sent, until `apply` takes their outcome
        self._swept: set[Network] = set()  # ... and their prefixes
        self._monitor: RouteMonitor | None = None
        self._on_drift: Callable[[], None] | None = None
        # Notifications that looked like drift while an apply had not yet written its record (`apply`), or None.
        self._held: list[tuple[RouteEvent, KernelRoute | None]] | None = None
        self._held_lock = threading.Lock()
        self.counts: Counter[str] = Counter()  # routes added / replaced / deleted by this backend (tests, bench)

    def list_owned(self, *, fresh: bool = True, keep: Container[Network] | None = None) -> list[Route]:
        """A dump of the table; `fresh=False` answers from what we last listed and programmed once a dump was made
        (the watcher triggers a full run on any change of ours behind our back).

        With `keep`, the routes at any other prefix are deleted while the dump is parsed (`RouteTable.sweep`):
        they are listed all the same, the plan deletes them, and `apply` takes their outcome instead of sending
        them again."""
        with self._lock:
            self._settle_sweep()
            if not fresh and self._listed:
                return [Route(p, hop) for p, hops in self._known.items() for hop in hops]
            gone: set[Network] = set()
            if keep is None:
                owned = self._routes.owned()
            else:
                old = self._known  # still the monitor's: our own deletes must not read as drift

                def forget(doomed: list[KernelRoute]) -> None:
                    prefixes = list(map(_PREFIX, doomed))
                    gone.update(prefixes)
                    if old:  # empty at start-up
                        for prefix in prefixes:
                            old.pop(prefix, None)

                owned, self._sweep = self._routes.sweep(keep, before=forget)
                self._swept = gone
            known: Known = {}
            doomed = len(self._sweep.routes) if self._sweep is not None else 0
            if doomed < len(owned):  # else every route is being deleted: nothing to record
                for r in owned:
                    if r.prefix not in gone:
                        _know(known, r.prefix, r.next_hop)
            self._known = known
            self._listed = True
        return [_new_route(r.prefix, r.next_hop) for r in owned]

    def _settle_sweep(self) -> dict[Network, str]:
        """Join the deletes a sweeping listing left in flight: the prefix of each that failed → its error."""
        sweep, self._sweep, self._swept = self._sweep, None, set()
        if sweep is None:
            return {}
        try:
            failures = sweep.wait()
        except LinuxError as exc:  # the socket broke: which deletes happened is unknown, the next full run reads
            self._listed = False
            return {r.prefix: str(exc) for r in sweep.routes}
        failed: dict[Network, str] = {}
        for i, err in failures.items():
            failed.setdefault(sweep.routes[i].prefix, str(err))
        return failed

    def owned_at(self, prefixes: Collection[Network]) -> list[Route] | None:
        """From what we last listed and programmed (kept true between full reads by the watcher: any change of
        ours behind our back triggers a full run); None before the first full listing."""
        with self._lock:
            if not self._listed:
                return None
            known = self._known
            return [Route(p, hop) for p in prefixes for hop in known.get(p, ())]

    def apply(self, plan: RoutePlan, meanwhile: Callable[[], object] | None = None) -> ApplyResult:
        """Deletes first (duplicates of a prefix go before its replace), then replaces, then adds. Deletes the
        listing sent already (`keep`) are waited for, not sent again: nothing else goes out while they run (a
        replace's look at the table must not read a dump they change).

        Our record of the table (`expect`) and `meanwhile` are computed while the kernel works on the batches; the
        watcher holds what looks like drift until the record is written, then judges it against the record."""
        with self._lock:
            sent = self._swept  # every route of ours at these prefixes: deleted already
            swept = self._settle_sweep()
            deletes: Sequence[Route] = [r for r in plan.delete if r.prefix not in sent] if sent else plan.delete
            with gc_paused():  # CPU-bound, no I/O: one object per route would otherwise set off full collections
                # IPv4 adds in bit-reversed order: the kernel's IPv4 trie takes routes whose prefixes are far apart
                # faster than neighbours (65,536 /24s: ~0.19 s against ~0.23 s in prefix order); IPv6's tree
                # takes them slightly faster in the plan's order (BENCHMARKS.md).
                adds4 = [r for r in plan.add if isinstance(r.prefix, IPv4Network)]
                adds6 = (
                    [r for r in plan.add if not isinstance(r.prefix, IPv4Network)] if len(adds4) < len(plan.add) else []
                )
                adds4 = list(map(adds4.__getitem__, spread(len(adds4))))
            ops = Runs((("delete", deletes), ("replace", plan.replace), ("add", adds4), ("add", adds6)))
            known = self._known

            def shadow() -> None:
                with gc_paused():
                    expect(known, plan)
                if meanwhile is not None:
                    meanwhile()

            self._hold_drift()
            try:
                failures = self._routes.apply(ops, shadow)
            finally:
                self._judge_held()
        failed = {ops[i][1]: str(err) for i, err in failures.items()}
        lost = [r for r in plan.delete if r.prefix in swept] if swept else []
        for route in lost:
            failed.setdefault(route.prefix, swept[route.prefix])
        self.counts.update(delete=len(plan.delete), replace=len(plan.replace), add=len(plan.add))
        self.counts.subtract(ops[i][0] for i in failures)
        self.counts["delete"] -= len(lost)
        return ApplyResult(failed=failed)

    def foreign(self, prefixes: Collection[Network]) -> dict[Network, str]:
        """Read only: dumps the families of `prefixes` (an IPv4-only question never reads the IPv6 table)."""
        if not prefixes:
            return {}
        families = {socket.AF_INET6 if p.version == 6 else socket.AF_INET for p in prefixes}
        with self._lock:
            table = self._routes.dump(owned_only=False, families=families)
        found: dict[Network, str] = {}
        for r in table:
            if r.prefix in prefixes and r.protocol != self.proto:
                hop = "no single gateway" if no_gateway(r) else f"via {r.next_hop}"
                found.setdefault(r.prefix, f"{hop} proto {r.protocol} table {r.table}")
        return found

    def watch(self, on_drift: Callable[[], None]) -> None:
        """Subscribe to route notifications in the router's namespace; `on_drift` runs on the monitor thread."""
        if self._monitor is not None:
            return

        def on_event(event: RouteEvent, route: KernelRoute | None) -> None:
            if is_drift(event, route, proto=self.proto, known=self._known):
                with self._held_lock:
                    if self._held is not None:  # an apply is writing the record: judged once it is written
                        self._held.append((event, route))
                        return
                log.info("route drift seen: %s %s", event, route)
                on_drift()

        self._on_drift = on_drift
        self._monitor = RouteMonitor(table=self.table, netns=self.netns, on_event=on_event)
        self._monitor.start()

    def _hold_drift(self) -> None:
        with self._held_lock:
            self._held = []

    def _judge_held(self) -> None:
        """What the watcher held during an apply, against the record the apply wrote: drift if any still is."""
        with self._held_lock:
            held, self._held = self._held or [], None
        for event, route in held:
            if is_drift(event, route, proto=self.proto, known=self._known):
                log.info("route drift seen: %s %s", event, route)
                if self._on_drift is not None:
                    self._on_drift()
                return

    def synced(self, complete: bool = True) -> None:
        return None

    def undelivered(self, routes: Collection[Route]) -> dict[Network, str]:
        return {}  # a route in the kernel table is in effect

    def close(self) -> None:
        if self._monitor is not None:
            self._monitor.stop()
            self._monitor = None
        with self._lock:
            self._settle_sweep()
            self._routes.close()
