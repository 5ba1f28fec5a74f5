"""Prometheus metrics of the route reconciler, registered on the registry the controller's app owns."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hubnet.server.domain.routes import RoutePlan


class ReconcileMetrics:
    """`hubnet_route_*`: runs per trigger, duration, routes changed per action, drift repaired, errors."""

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

    def applied(self, plan: RoutePlan, failed: int) -> None:
        self.changed.labels("add").inc(len(plan.add))
        self.changed.labels("replace").inc(len(plan.replace))
        self.changed.labels("delete").inc(len(plan.delete))
        if failed:
            self.errors.labels("route").inc(failed)
