"""The seam between the reconciler and whatever programs routes (kernel via netlink, later BGP)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Container
from typing import Protocol

from hubnet.net import Network
from hubnet.server.domain.routes import ApplyResult, Route, RoutePlan

# Routing-protocol numbers the kernel gives meaning to (RTPROT_REDIRECT, _KERNEL, _BOOT, _STATIC): never ours.
RESERVED_PROTOS = range(1, 5)


class RouteBackend(Protocol):
    """Programs the routes hubnet owns on one router. Implementations only ever see and touch owned routes."""

    name: str

    def list_owned(self, *, fresh: bool = True, keep: Container[Network] | None = None) -> list[Route]:
        """The routes on the router that carry hubnet's mark (protocol number, table), of both families.

        `fresh=False` (a run triggered by a database change) lets a backend for which reading the router costs
        much answer from its own record of what it applied; start-up, periodic and drift runs always read.

        `keep` (the prefixes desired routes claim) lets a backend start deleting the routes at any other prefix
        while it reads; it lists them all the same and `apply` of a plan that deletes them reports their outcome. A
        backend may ignore it (and then deletes them in `apply`)."""
        ...

    def owned_at(self, prefixes: Collection[Network]) -> list[Route] | None:
        """The owned routes at `prefixes` as this backend's record of what it listed and applied says, without
        reading the router; None when it keeps no such record (the reconciler then reads in full). Only asked by a
        run for a database change, between runs that read in full (drift makes the watcher trigger one)."""
        ...

    def apply(self, plan: RoutePlan, meanwhile: Callable[[], object] | None = None) -> ApplyResult:
        """Apply the plan idempotently (add of an existing identical route and delete of a missing one succeed).

        `meanwhile` is the caller's work that needs no outcome of the plan: run exactly once, while the router
        works on the plan where the backend can (the kernel backend), else before returning."""
        ...

    def foreign(self, prefixes: Collection[Network]) -> dict[Network, str]:
        """Of `prefixes`, those a route hubnet does not own holds, each with a description of that route (read
        only: it explains a missing route, it is never touched)."""
        ...

    def watch(self, on_drift: Callable[[], None]) -> None:
        """Start watching for owned routes changed or removed behind our back; call `on_drift` when seen.

        Backends that cannot watch do nothing; the periodic reconcile still repairs drift.
        """
        ...

    def close(self) -> None:
        """Stop watching and release sockets."""
        ...

    def synced(self, complete: bool = True) -> None:
        """The reconciler has just brought the owned table in line with the desired set (called after every run
        that applied, or had nothing to apply); `complete` is False when some route failed. The BGP backend adds
        its peers only after a complete run following a speaker start (or, if routes keep failing, after a bound
        well inside the graceful-restart time), so a peer's End-of-RIB follows the complete table."""
        ...

    def undelivered(self, routes: Collection[Route]) -> dict[Network, str]:
        """Of `routes` (in place in the owned table), those not yet in effect, each with why: a BGP path no
        Established session has received yet. A node with one stays `pending` (its CNI ADD waits)."""
        ...


class NullBackend:
    """`HUBNET_ROUTE_BACKEND=none`: programs nothing and owns nothing; the reconciler runs it as a dry run."""

    name = "none"

    def list_owned(self, *, fresh: bool = True, keep: Container[Network] | None = None) -> list[Route]:
        return []

    def owned_at(self, prefixes: Collection[Network]) -> list[Route] | None:
        return None

    def apply(self, plan: RoutePlan, meanwhile: Callable[[], object] | None = None) -> ApplyResult:
        if meanwhile is not None:
            meanwhile()
        return ApplyResult(failed=dict.fromkeys((r.prefix for r in (*plan.add, *plan.replace)), "no route backend"))

    def foreign(self, prefixes: Collection[Network]) -> dict[Network, str]:
        return {}

    def watch(self, on_drift: Callable[[], None]) -> None:
        return None

    def close(self) -> None:
        return None

    def synced(self, complete: bool = True) -> None:
        return None

    def undelivered(self, routes: Collection[Route]) -> dict[Network, str]:
        return {}
