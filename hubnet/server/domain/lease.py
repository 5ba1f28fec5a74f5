"""Lease lifecycle (pure): active -> stale after the TTL -> released after the grace period (or on delete)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hubnet.wire import LeaseState as LeaseState  # the states are part of the wire contract (re-exported)
from hubnet.wire import RouteState as RouteState


def withdrawal(route_state: str, route_error: str | None) -> RouteState:
    """The route state a release leaves on a record. `withdrawing` when a reconciler has reported on its route
    (`programmed`, `failed`, or `pending` with a reason): the route may be on a router, and the subnet must not go
    to another node until a reconciler has seen it gone and says `withdrawn`. `withdrawn` at once when none ever
    did: no route backend runs (the state stays `pending` then), so there is nothing to wait for. The one narrow
    case this lets through: a route applied in the instant before its first report lands.

    `hubnet.server.db.repository` states the same rule in SQL for the reaper's bulk release."""
    never_reported = route_state == RouteState.PENDING and route_error is None
    return RouteState.WITHDRAWN if never_reported else RouteState.WITHDRAWING


def released_values(now: float, *, route: RouteState) -> dict[str, object]:
    """The columns a release sets, whether by delete or by lease expiry (`route`: see `withdrawal`)."""
    return {"state": LeaseState.RELEASED.value, "released_at": now, "route_state": route.value, "route_error": None}


def expiry(now: float, ttl: float) -> float:
    """When a lease renewed at `now` goes stale."""
    return now + ttl


def stale_cutoff(now: float) -> float:
    """Active leases expiring before this are stale (their route stays: a controller hiccup must not cut pods)."""
    return now


def release_cutoff(now: float, grace: float) -> float:
    """Stale leases that expired before this are released (route withdrawn, subnet quarantined)."""
    return now - grace


def quarantined(released_at: float | None, now: float, quarantine: float) -> bool:
    return released_at is not None and now - released_at < quarantine


class Resume(StrEnum):
    """What a controller start does to the live leases (see `resume_plan`)."""

    ONE_TTL = "one-ttl"
    SHIFT = "shift"
    KEEP = "keep"


@dataclass(frozen=True)
class ResumePlan:
    action: Resume
    shift: float = 0.0  # seconds added to every live lease's expiry (SHIFT only)


def resume_plan(alive_at: float | None, now: float, interval: float) -> ResumePlan:
    """The lease clock stops while no controller runs. `alive_at` is when a controller was last known alive (every
    reaper pass stamps it, so a running controller is never more than one interval behind).

    - never stamped (first start after the upgrade, fresh database): expired leases get one TTL, once;
    - stamped D > 2 intervals ago: no controller ran for most of D, so every live lease gets D - interval back. The
      last controller may have lived up to one interval after its last stamp; counting that interval as up-time
      means a controller that crash-loops ages its leases by at least one interval per start (so it still releases
      dead nodes), and a node loses at most one interval of lease per outage: that can make it stale (route kept),
      never released, since release needs the grace on top;
    - otherwise another controller is alive (or this is a quick restart): nothing to give back.
    """
    if alive_at is None:
        return ResumePlan(Resume.ONE_TTL)
    down = now - alive_at
    if down > 2 * interval:
        return ResumePlan(Resume.SHIFT, down - interval)
    return ResumePlan(Resume.KEEP)
