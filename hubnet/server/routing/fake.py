"""An in-memory RouteBackend for unit tests: a route table you can inspect, break and watch."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Collection, Container, Iterable

from hubnet.net import Network
from hubnet.server.domain.routeplan import apply_to
from hubnet.server.domain.routes import ApplyResult, Route, RoutePlan, route_key


class FakeBackend:
    """Holds the owned routes in a set; `fail` makes chosen prefixes fail on apply, `broken` fails listing."""

    name = "fake"

    def __init__(self, routes: set[Route] | None = None) -> None:
        self.routes: set[Route] = set(routes or ())
        self.plans: list[RoutePlan] = []
        self.counts: Counter[str] = Counter()
        self.fail: dict[Network, str] = {}
        self.broken: str | None = None
        self.foreign_routes: dict[Network, str] = {}  # prefixes held by routes we do not own
        self.closed = False
        self.recorded = True  # answers `owned_at` (False: like a backend that keeps no record)
        self._on_drift: Callable[[], None] | None = None
        self._lock = threading.Lock()

    def list_owned(self, *, fresh: bool = True, keep: Container[Network] | None = None) -> list[Route]:
        with self._lock:
            if self.broken:
                raise RuntimeError(self.broken)
            return sorted(self.routes, key=route_key)

    def owned_at(self, prefixes: Collection[Network]) -> list[Route] | None:
        if not self.recorded:
            return None
        with self._lock:
            return sorted((r for r in self.routes if r.prefix in prefixes), key=route_key)

    def apply(self, plan: RoutePlan, meanwhile: Callable[[], object] | None = None) -> ApplyResult:
        if meanwhile is not None:
            meanwhile()
        with self._lock:
            self.plans.append(plan)
            failed = {p: e for p, e in self.fail.items() if any(r.prefix == p for r in _all(plan))}
            kept = RoutePlan(*(tuple(r for r in part if r.prefix not in failed) for part in _parts(plan)))
            self.routes = apply_to(self.routes, kept)
            self.counts.update(add=len(kept.add), replace=len(kept.replace), delete=len(kept.delete))
            return ApplyResult(failed=failed)

    def foreign(self, prefixes: Collection[Network]) -> dict[Network, str]:
        return {p: d for p, d in self.foreign_routes.items() if p in prefixes}

    def watch(self, on_drift: Callable[[], None]) -> None:
        self._on_drift = on_drift

    def synced(self, complete: bool = True) -> None:
        return None

    def undelivered(self, routes: Collection[Route]) -> dict[Network, str]:
        return {}  # a route in the kernel table is in effect

    def close(self) -> None:
        self.closed = True

    def drift(self, *, remove: Iterable[Route] = (), add: Iterable[Route] = ()) -> None:
        """Change the table behind the reconciler's back and fire the watch callback, like the kernel monitor."""
        with self._lock:
            self.routes = (self.routes - set(remove)) | set(add)
        if self._on_drift is not None:
            self._on_drift()


def _parts(plan: RoutePlan) -> tuple[tuple[Route, ...], tuple[Route, ...], tuple[Route, ...]]:
    return plan.add, plan.replace, plan.delete


def _all(plan: RoutePlan) -> tuple[Route, ...]:
    return (*plan.add, *plan.replace, *plan.delete)
