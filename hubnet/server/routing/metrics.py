"""Prometheus metrics of the route reconciler, registered on the registry the controller's app owns."""

from __future__ import annotations

import collections
from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network
from operator import attrgetter

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hubnet.net import Network
from hubnet.server.domain.routes import Route, RoutePlan

FAMILY_LABELS = {4: "4", 6: "6"}  # as hubnet_pool_info{family} labels a pool: "4" or "6"


class ReconcileMetrics:
    """`hubnet_route_*`: runs per trigger, duration, routes changed per action, drift repaired, errors; the desired
    and owned sizes in total and per address family."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.runs = Counter(
            "hubnet_route_reconcile_runs", "Reconcile runs by what started them", ["trigger"], registry=registry
        )
        self.duration = Histogram(
            "hubnet_route_reconcile_duration_seconds",
            "Time of one reconcile (load desired, list owned, plan, apply)",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.changed = Counter(
            "hubnet_routes_changed", "Routes programmed, by action (add/replace/delete)", ["action"], registry=registry
        )
        self.drift = Counter(
            "hubnet_route_drift_repaired", "Routes changed behind our back and put right", registry=registry
        )
        self.errors = Counter(
            "hubnet_route_errors",
            "Failed reconciles, routes and state reports",
            ["kind"],
            registry=registry,
        )
        self.desired = Gauge("hubnet_routes_desired", "Routes the database wants", registry=registry)
        self.owned = Gauge("hubnet_routes_owned", "Routes we own after the last reconcile", registry=registry)
        self.desired_family = Gauge(
            "hubnet_routes_desired_by_family", "Routes the database wants, per family", ["family"], registry=registry
        )
        self.owned_family = Gauge(
            "hubnet_routes_owned_by_family",
            "Routes we own after the last reconcile, per family",
            ["family"],
            registry=registry,
        )

    def sizes(self, want: Iterable[Network], owned: dict[int, int]) -> None:
        """Set the desired and owned gauges, in total and per family (`owned`: family → count)."""
        counts = _per_family(collections.Counter(map(type, want)))  # C-level counting: 65,536 prefixes in ~3 ms
        self.desired.set(counts[4] + counts[6])
        self.owned.set(sum(owned.values()))
        for family, label in FAMILY_LABELS.items():
            self.desired_family.labels(label).set(counts[family])
            self.owned_family.labels(label).set(owned.get(family, 0))

    def counts(self, desired: dict[int, int], owned: dict[int, int]) -> None:
        """Set the desired and owned gauges from per-family counts (a change run moves them by what changed)."""
        self.desired.set(desired[4] + desired[6])
        self.owned.set(sum(owned.values()))
        for family, label in FAMILY_LABELS.items():
            self.desired_family.labels(label).set(desired[family])
            self.owned_family.labels(label).set(owned.get(family, 0))

    def applied(self, plan: RoutePlan, failed: int) -> None:
        self.changed.labels("add").inc(len(plan.add))
        self.changed.labels("replace").inc(len(plan.replace))
        self.changed.labels("delete").inc(len(plan.delete))
        if failed:
            self.errors.labels("route").inc(failed)


def by_family(routes: Iterable[Route], sign: int = 1, into: dict[int, int] | None = None) -> dict[int, int]:
    """Count `routes` per family into `into` (sign -1 subtracts): the owned gauges after a plan is applied."""
    counts = into if into is not None else {4: 0, 6: 0}
    found = _per_family(collections.Counter(map(type, map(attrgetter("prefix"), routes))))
    counts[4] += sign * found[4]
    counts[6] += sign * found[6]
    return counts


def _per_family(by_type: collections.Counter[type]) -> dict[int, int]:
    """Prefixes counted by type → by family. By subclass, not by type: the dump and the desired set build networks
    that keep their hash (`hubnet.net.network4/6`), subclasses of the stdlib's."""
    counts = {4: 0, 6: 0}
    for kind, count in by_type.items():
        if issubclass(kind, IPv4Network):
            counts[4] += count
        elif issubclass(kind, IPv6Network):
            counts[6] += count
    return counts
