"""The integrity check use case (`GET /v1/check`): gather the three views, hand them to the pure check.

Bridge reports arrive with heartbeats and are kept in this controller process's memory (`BridgeReports`), not in
the database: they are observations, refreshed every heartbeat interval, so after a restart they return within
one interval; a node whose agent never reported (an older agent) is simply not bridge-checked.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from hubnet.net import Network, parse_network
from hubnet.server.domain.integrity import KINDS, BridgeReport, NodeFacts, Problem, check
from hubnet.server.domain.records import NodeRecord
from hubnet.server.services.auth import require_admin
from hubnet.server.services.context import Controller


class DriftSource(Protocol):
    def drift(self) -> dict[str, Any]: ...


class BridgeReports:
    """The last bridge report per node name (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reports: dict[str, BridgeReport] = {}

    def put(self, node: str, report: BridgeReport) -> None:
        with self._lock:
            self._reports[node] = report

    def snapshot(self) -> dict[str, BridgeReport]:
        with self._lock:
            return dict(self._reports)


@dataclass(frozen=True)
class Report:
    problems: list[Problem]
    nodes: int
    routes: int | None  # None: no route backend, route checks skipped
    bridges: int
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": not self.problems,
            "problems": [p.as_dict() for p in self.problems],
            "counts": self.counts,
            "checked": {"nodes": self.nodes, "routes": self.routes, "bridges": self.bridges},
        }


def facts(node: NodeRecord) -> list[NodeFacts]:
    """One fact per family the row holds a subnet of, with the row's address of that family ("" when the row has
    none: the route check then reports the next hop as wrong, which it is)."""
    pairs = ((node.address, node.subnet), (node.address6, node.subnet6))
    return [NodeFacts(node.name, address or "", subnet) for address, subnet in pairs if subnet is not None]


def run(ctl: Controller, *, token: str | None, routes: DriftSource | None, bridges: BridgeReports) -> Report:
    """Admin only. Reads the live nodes and pools, the router's owned routes (when a backend runs) and the
    agents' bridge reports, and returns every problem found; repairs nothing."""

    def read(uow: Any) -> tuple[list[NodeFacts], list[Network], list[tuple[str, str]]]:
        require_admin(ctl, uow, token, "run the integrity check")
        live = [fact for n in uow.repo.live_nodes() for fact in facts(n)]
        return live, [parse_network(p.cidr) for p in uow.repo.pools()], uow.repo.count_drift()

    nodes, pools, counted = ctl.read(read)
    owned, foreign = None, {}
    if routes is not None:
        drift = routes.drift()
        owned = [(str(r["prefix"]), str(r["next_hop"])) for r in drift["actual"]]
        foreign = {str(r["prefix"]): str(r["holder"]) for r in drift.get("foreign", [])}
    reports = bridges.snapshot()
    live = {n.name for n in nodes}  # nodes: one fact per family
    reports = {name: report for name, report in reports.items() if name in live}
    problems = check(nodes, pools, owned, reports, foreign=foreign, now=time.time())
    # The kept counts against a real count (one snapshot: the same read): the controller repairs them at start.
    problems += [Problem("count-drift", None, subject, detail) for subject, detail in counted]
    counts = Counter(p.kind for p in problems)
    return Report(
        problems,
        nodes=len(live),
        routes=None if owned is None else len(owned),
        bridges=len(reports),
        counts={kind: counts.get(kind, 0) for kind in KINDS},
    )
