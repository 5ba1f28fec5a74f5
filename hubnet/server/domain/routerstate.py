"""Per-router route state (pure): the node's aggregate over the router agents, and a router's liveness.

A node is `programmed` (its CNI ADD allowed) only once every router that counts holds its route, so a router
failover never meets a missing route. Only `up` routers count: a router that stopped reporting (`down`) does not
block readiness, and one that comes back (`syncing`) does not flip ready nodes to pending until it holds every
route they have.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from hubnet.wire import RouterStatus, RouteState

NO_ROUTER_UP = "no router agent is up"


def aggregate(
    per_router: Mapping[str, str | None],
    counted: Collection[str],
    *,
    errors: Mapping[str, str | None] | None = None,
) -> tuple[str, str | None]:
    """A node's route state from each router's state for its current generation (None: no report for it).

    Over the `counted` routers (status `up`): `failed` when any failed, the error naming each failed router
    ("r1: <error>", from `errors`); else `pending` when any is pending or has no state; else `programmed`. With no
    counted router: `pending`, "no router agent is up". Routers outside `counted` are ignored."""
    names = sorted(counted)
    if not names:
        return RouteState.PENDING.value, NO_ROUTER_UP
    failed = [name for name in names if per_router.get(name) == RouteState.FAILED]
    if failed:
        why = errors or {}
        return RouteState.FAILED.value, "; ".join(f"{name}: {why.get(name) or 'failed'}" for name in failed)
    if all(per_router.get(name) == RouteState.PROGRAMMED for name in names):
        return RouteState.PROGRAMMED.value, None
    return RouteState.PENDING.value, None


def status_after_report(status: str, *, complete: bool, holds_ready_routes: bool) -> str:
    """A router's status once a report arrived: back from `down` it is `syncing`; a `syncing` router becomes `up`
    when the report says its table is complete and it holds the route of every node that is ready now (so counting
    it never turns a ready node pending); an `up` router stays up (only the timeout takes it down)."""
    current = RouterStatus(status)
    if current is RouterStatus.DOWN:
        current = RouterStatus.SYNCING
    if current is RouterStatus.SYNCING and complete and holds_ready_routes:
        return RouterStatus.UP.value
    return current.value


def counts(status: str) -> bool:
    """Whether a router with this status counts in the aggregate."""
    return status == RouterStatus.UP
