"""Lease lifecycle (pure): active -> stale after the TTL -> released after the grace period (or on delete)."""

from __future__ import annotations

from enum import StrEnum


class LeaseState(StrEnum):
    ACTIVE = "active"
    STALE = "stale"
    RELEASED = "released"


class RouteState(StrEnum):
    PENDING = "pending"
    PROGRAMMED = "programmed"
    FAILED = "failed"


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
