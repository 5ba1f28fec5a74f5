"""Router agent use cases: join, report, list / show / delete, and the timeout that takes a silent router down.

A router agent (`hubnet router join`) follows the route feed and programs its own kernel table; its reports say
what it holds per node. A node's `route_state` stays the stored aggregate over the `up` routers
(`hubnet.server.domain.routerstate.aggregate`), recomputed with a `route.programmed` / `route.failed` event on
change: for the nodes a report names, and for every live node when a router starts or stops counting. That happens
only in agent mode (HUBNET_ROUTE_BACKEND=none): with an embedded backend the reconciler owns the aggregate.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from hubnet.server.domain.errors import EmbeddedRouteBackend
from hubnet.server.domain.lease import LeaseState, RouteState
from hubnet.server.domain.records import NodeRecord, RouterRecord
from hubnet.server.domain.routefeed import FEED_MOVES, MAX_DELTA_EVENTS, needs_full
from hubnet.server.domain.routerstate import aggregate, counts, status_after_report
from hubnet.server.domain.validation import check_name, check_router_secret
from hubnet.server.services.auth import authorize_router, require_admin, require_registrar
from hubnet.server.services.context import Controller, hash_secret
from hubnet.server.services.ports import UnitOfWork
from hubnet.wire import Router, RouterStatus

log = logging.getLogger("hubnet.server")
MAX_ERROR = 1000  # characters of an error a router reports that are kept (a longer one is cut, never refused)
RELEASED = LeaseState.RELEASED.value


@dataclass(frozen=True)
class ReportedState:
    node: str
    generation: int
    state: str  # pending | programmed | failed
    error: str | None = None


@dataclass(frozen=True)
class RouterReport:
    """What a router says about its table (`POST /v1/routers/{name}/report`), input already checked."""

    revision: int  # the feed revision its table reflects
    complete: bool  # every desired route is in place, none failed
    route_count: int = 0
    missing: int = 0
    unexpected: int = 0
    foreign: int = 0
    error: str | None = None
    states: Sequence[ReportedState] = ()


def agent_mode(ctl: Controller) -> bool:
    """Router agents program the routes (the controller runs no route backend of its own)."""
    return ctl.settings.route_backend == "none"


def refuse_embedded(ctl: Controller) -> None:
    """EmbeddedRouteBackend unless this controller is in agent mode."""
    if not agent_mode(ctl):
        backend = ctl.settings.route_backend
        raise EmbeddedRouteBackend(
            f"this controller programs routes itself (HUBNET_ROUTE_BACKEND={backend}); "
            "router agents need HUBNET_ROUTE_BACKEND=none"
        )


def view(router: RouterRecord) -> Router:
    return Router(
        name=router.name,
        status=RouterStatus(router.status),
        last_report_at=router.last_report_at,
        synced_at=router.synced_at,
        route_count=router.route_count,
        missing=router.missing,
        unexpected=router.unexpected,
        foreign=router.foreign,
        last_error=router.last_error,
        applied_revision=router.applied_revision,
        created_at=router.created_at,
    )


def join(ctl: Controller, *, token: str | None, name: str, secret: str) -> tuple[Router, bool]:
    """Create the router (True) or re-join it (False: the new secret replaces the old one, the status is kept).
    Bootstrap token (configured, or stored and usable: a join does not count a use) or admin. Raises
    EmbeddedRouteBackend, InvalidInput naming `name` or `secret`, Unauthenticated / Forbidden."""
    check_name(name)
    check_router_secret(secret)
    digest = hash_secret(secret)

    def use_case(uow: UnitOfWork) -> tuple[Router, bool]:
        require_registrar(ctl, uow, token, "join a router")
        refuse_embedded(ctl)
        found = uow.repo.routers.by_name(name)
        if found is None:
            router_id = uow.repo.routers.add(name=name, secret_hash=digest, now=uow.now)
            uow.emit("router.joined", None, router=name, rejoined=False)
            return view(_new(router_id, name, digest, uow.now)), True
        uow.repo.routers.update(found.id, secret_hash=digest)
        uow.emit("router.joined", None, router=name, rejoined=True)
        return view(replace(found, secret_hash=digest)), False

    created_view, created = ctl.write(use_case)
    log.info("router %s %s", name, "joined" if created else "re-joined")
    return created_view, created


def _new(router_id: int, name: str, digest: str, now: float) -> RouterRecord:
    return RouterRecord(router_id, name, digest, now, None, None, RouterStatus.SYNCING.value, 0, 0, 0, 0, None, None)


def report(ctl: Controller, *, token: str | None, name: str, body: RouterReport) -> Router:
    """Store a router's report: its counters and status, and its state of every node named whose current
    generation and routes it is about (others are ignored: the node moved on). That router's secret, or admin."""

    def use_case(uow: UnitOfWork) -> Router:
        router = authorize_router(ctl, uow, token, name)
        nodes = _changed(uow, router, _current(uow, body.states, body.revision))
        rows = [(node.id, s.generation, RouteState(s.state).value, _cut(s.error)) for node, s in nodes]
        if rows:
            uow.repo.routers.save_states(router.id, rows, now=uow.now)
        status = _status(uow, router, body.complete)
        values = _stamp(body, status, uow.now)
        if status != router.status:
            values["synced_at"] = uow.now if status == RouterStatus.UP else None
            uow.emit(f"router.{status}", None, router=name, previous=router.status)
        uow.repo.routers.update(router.id, **values)
        if agent_mode(ctl) and counts(status) != counts(router.status):
            recompute(uow, None)  # the set of routers that count changed: every live node
        elif agent_mode(ctl) and counts(status) and nodes:
            recompute(uow, [node for node, _ in nodes])
        if agent_mode(ctl):
            confirm_withdrawals(uow)
        return view(replace(router, **values))

    return ctl.write(use_case)


def _stamp(body: RouterReport, status: str, now: float) -> dict[str, Any]:
    """The router row's columns a report sets."""
    return {
        "last_report_at": now,
        "route_count": body.route_count,
        "missing": body.missing,
        "unexpected": body.unexpected,
        "foreign": body.foreign,
        "last_error": _cut(body.error),
        "applied_revision": body.revision,
        "status": status,
    }


def _current(uow: UnitOfWork, states: Sequence[ReportedState], revision: int) -> list[tuple[NodeRecord, ReportedState]]:
    """The reported states about a live node's current generation and routes (the last one per node), with the node.

    A re-join from another address or with a new subnet moves the node's routes without a new generation: a state
    from a table older than that move (the report's `revision` is before it) is about the old routes — the router
    may still hold the route via the old address — and is ignored. When the moves after `revision` cannot all be
    read (too many, or no longer kept) every state is ignored: the router is far behind and reads the whole table."""
    if not states:
        return []
    moved = _moved_after(uow, revision)
    if moved is None:
        return []
    latest = {s.node: s for s in states if s.node not in moved}
    found = {n.name: n for n in uow.repo.nodes_named(latest)}
    return [
        (node, s)
        for name, s in sorted(latest.items())
        if (node := found.get(name)) is not None and node.state != RELEASED and node.generation == s.generation
    ]


def _changed(
    uow: UnitOfWork, router: RouterRecord, found: list[tuple[NodeRecord, ReportedState]]
) -> list[tuple[NodeRecord, ReportedState]]:
    """Of `found`, the states this router has not stored already. A full report (every node, at start-up and now and
    then) mostly repeats what is stored: writing 65,536 unchanged rows — and recomputing their nodes — would hold
    every other write for seconds on PostgreSQL, for nothing."""
    if not found:
        return []
    stored = {
        row.node_id: (row.generation, row.state, row.error)
        for row in uow.repo.routers.states([node.id for node, _ in found])
        if row.router == router.name
    }
    return [
        (node, s)
        for node, s in found
        if stored.get(node.id) != (s.generation, RouteState(s.state).value, _cut(s.error))
    ]


def _moved_after(uow: UnitOfWork, revision: int) -> set[str] | None:
    """The nodes whose routes moved after `revision` (None: unknown, see `_current`)."""
    current = uow.repo.revision()
    if revision >= current:
        return set()  # nothing after it (or the router is ahead of this log: the generation still guards)
    if needs_full(revision, current, uow.repo.first_revision()):
        return None
    names = uow.repo.event_nodes(after=revision, upto=current, kinds=FEED_MOVES, limit=MAX_DELTA_EVENTS + 1)
    return None if len(names) > MAX_DELTA_EVENTS else {n for n in names if n}


def _status(uow: UnitOfWork, router: RouterRecord, complete: bool) -> str:
    waiting = router.status != RouterStatus.UP and complete
    holds = waiting and uow.repo.routers.holds_ready_routes(router.id)  # asked only when it could come up
    return status_after_report(router.status, complete=complete, holds_ready_routes=holds)


def _cut(error: str | None) -> str | None:
    return None if error is None else error[:MAX_ERROR]


def recompute(uow: UnitOfWork, nodes: Sequence[NodeRecord] | None) -> int:
    """Recompute and store the aggregate route state of these nodes (None: every live node), read in this
    transaction; one `route.programmed` / `route.failed` event per change. Returns how many changed."""
    routers = uow.repo.routers.all()
    counted = {r.name for r in routers if counts(r.status)}
    targets = [n for n in (uow.repo.live_nodes() if nodes is None else nodes) if n.state != RELEASED]
    if not targets:
        return 0
    stored = uow.repo.routers.states(None if nodes is None else [n.id for n in targets])
    per_node: dict[int, list[tuple[str, int, str, str | None]]] = {}
    for row in stored:
        per_node.setdefault(row.node_id, []).append((row.router, row.generation, row.state, row.error))
    changes: list[tuple[NodeRecord, str, str | None]] = []
    for node in targets:
        current = [(r, s, e) for r, g, s, e in per_node.get(node.id, ()) if g == node.generation]
        state, error = aggregate({r: s for r, s, _ in current}, counted, errors={r: e for r, _, e in current})
        if (state, error) != (node.route_state, node.route_error):
            changes.append((node, state, error))
    uow.repo.routers.set_aggregates([(n.id, n.generation, s, e) for n, s, e in changes])
    for node, state, error in changes:
        if state != RouteState.PENDING:
            uow.emit(f"route.{state}", node.name, error=error)
    return len(changes)


RELEASES = frozenset({"node.released", "node.deleted"})


def confirm_withdrawals(uow: UnitOfWork) -> int:
    """Agent mode: every released record still `withdrawing` whose release each router agent has applied says
    `withdrawn` from now on, so its subnet may go to another node (the embedded reconciler's
    `hubnet.server.services.routes.confirm_withdrawn`, for router agents). A router has applied it when its last
    report is about a feed revision at or after the release and it holds no route of ours that nobody wants
    (`unexpected` 0: a failed delete keeps the subnet held). Routers that are `down` are not waited for: a silent
    router is not asked forever, and one that comes back reads the whole table and removes stale routes before it
    counts again (the quarantine covers the gap). With no router left, nothing holds the route. One
    `route.withdrawn` event each; returns how many. One read of an (almost always empty) index otherwise."""
    waiting = uow.repo.withdrawing()
    if not waiting:
        return 0
    watching = [r for r in uow.repo.routers.all() if r.status != RouterStatus.DOWN]
    if any(r.unexpected for r in watching):
        return 0
    applied = min((r.applied_revision or 0 for r in watching), default=None)
    released_since: set[str | None] = set()
    if applied is not None:
        current = uow.repo.revision()
        names = uow.repo.event_nodes(after=applied, upto=current, kinds=RELEASES, limit=MAX_DELTA_EVENTS + 1)
        if len(names) > MAX_DELTA_EVENTS:
            return 0  # far behind: wait for it to catch up
        released_since = set(names)
    confirmed = 0
    for node in waiting:
        if node.name in released_since:
            continue  # released after some router's table: it may still hold the route
        if uow.repo.set_withdrawn(node.id, node.generation):
            uow.emit("route.withdrawn", node.name, subnet=node.primary_subnet, subnets=node.subnets)
            confirmed += 1
    return confirmed


def list_routers(ctl: Controller, *, token: str | None) -> list[Router]:
    def use_case(uow: UnitOfWork) -> list[Router]:
        require_admin(ctl, uow, token, "list routers")
        return [view(r) for r in uow.repo.routers.all()]

    return ctl.read(use_case)


def get_router(ctl: Controller, *, token: str | None, name: str) -> Router:
    """One router: admin, or that router's own secret."""
    return ctl.read(lambda uow: view(authorize_router(ctl, uow, token, name)))


def delete_router(ctl: Controller, *, token: str | None, name: str) -> None:
    """Delete the router and its route states (admin); NotFound naming `name`. When it counted, every live node's
    aggregate is recomputed without it."""

    def use_case(uow: UnitOfWork) -> None:
        require_admin(ctl, uow, token, "delete routers")
        router = authorize_router(ctl, uow, token, name)
        uow.repo.routers.delete(router.id)
        uow.emit("router.deleted", None, router=name)
        if agent_mode(ctl) and counts(router.status):
            recompute(uow, None)
        if agent_mode(ctl):
            confirm_withdrawals(uow)

    ctl.write(use_case)
    log.info("router %s deleted", name)


def mark_down(ctl: Controller) -> list[str]:
    """Routers silent for HUBNET_ROUTER_DOWN_SECONDS go `down` (one conditional UPDATE: with several controller
    processes, once); when one of them was `up`, every live node's aggregate is recomputed. Run by every reaper
    pass; returns the names moved."""

    def use_case(uow: UnitOfWork) -> list[str]:
        # Write batches are serialized (hubnet.server.db.uow), so the statuses read here are the ones the UPDATE sees.
        before = {r.name: r.status for r in uow.repo.routers.all()}
        names = uow.repo.routers.mark_down(before=uow.now - ctl.settings.router_down_seconds)
        for name in names:
            uow.emit("router.down", None, router=name, previous=before.get(name))
        if agent_mode(ctl) and any(counts(before.get(name, "")) for name in names):
            recompute(uow, None)  # an `up` router stopped counting
        if agent_mode(ctl):
            confirm_withdrawals(uow)  # also when no router reports at all
        return names

    names = ctl.write(use_case)
    if names:
        log.warning("router(s) %s stopped reporting: down", ", ".join(names))
    return names
