"""Prometheus metrics in a per-app registry: pool usage and node states read at scrape time, counters live."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from hubnet.server.services.context import Controller
from hubnet.server.services.pools import usage

log = logging.getLogger("hubnet.server")


class _StateCollector(Collector):
    """Reads the database on each scrape, so every controller process reports the shared truth."""

    def __init__(self, ctl: Controller) -> None:
        self.ctl = ctl

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            pools, states = self.ctl.read(lambda uow: (usage(self.ctl, uow), uow.repo.count_by_state()))
        except Exception:
            log.exception("metrics: cannot read pool usage")
            return
        families = {
            name: GaugeMetricFamily(f"hubnet_subnets_{name}", f"Subnets {name} per pool", labels=["pool"])
            for name in ("total", "allocated", "free")
        }
        low = GaugeMetricFamily(
            "hubnet_pool_low", "1 while the pool's free subnets are below HUBNET_POOL_WARN_FREE", labels=["pool"]
        )
        # The pool's family and node prefix as an info metric (always 1), so the series above keep their one label
        # and a query joins on `pool` to split by family: `hubnet_subnets_free * on(pool) group_left(family) ...`.
        info = GaugeMetricFamily(
            "hubnet_pool_info",
            "Always 1: the pool's address family and node prefix",
            labels=["pool", "family", "node_prefix"],
        )
        for pool in pools:
            families["total"].add_metric([pool.cidr], pool.total)
            families["allocated"].add_metric([pool.cidr], pool.allocated)
            families["free"].add_metric([pool.cidr], pool.free)
            low.add_metric([pool.cidr], 1 if pool.low else 0)
            info.add_metric([pool.cidr, str(pool.family), str(pool.node_prefix)], 1)
        yield from families.values()
        yield low
        yield info
        nodes = GaugeMetricFamily("hubnet_nodes", "Nodes per lease state", labels=["state"])
        for state in ("active", "stale", "released"):
            nodes.add_metric([state], states.get(state, 0))
        yield nodes


class AppMetrics:
    """Implements the services' `Metrics` hooks; `registry` is what /metrics serves."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.allocations = Counter(
            "hubnet_allocations", "Subnets assigned to nodes (new or reclaimed)", registry=self.registry
        )
        self.releases = Counter("hubnet_releases", "Subnets released (delete or lease expiry)", registry=self.registry)
        self.failures = Counter(
            "hubnet_allocation_failures",
            "Registrations refused a subnet, by problem (pool-exhausted, subnet-reissued, address-taken, ...)",
            ["reason"],
            registry=self.registry,
        )
        self.registration = Histogram(
            "hubnet_registration_seconds",
            "Time to serve POST /v1/nodes",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )

    def watch(self, ctl: Controller) -> None:
        self.registry.register(_StateCollector(ctl))

    def allocated(self) -> None:
        self.allocations.inc()

    def released(self, count: int = 1) -> None:
        self.releases.inc(count)

    def allocation_failed(self, reason: str) -> None:
        self.failures.labels(reason).inc()
