"""The desired-route feed of the router agents (`GET /v1/routes?since=REV`): the full table, or the entries of the
nodes whose routes moved after `since` (`hubnet.server.domain.routefeed`). One read transaction per answer."""

from __future__ import annotations

from hubnet.server.domain.lease import LeaseState
from hubnet.server.domain.records import NodeRecord
from hubnet.server.domain.routefeed import FEED_MOVES, MAX_DELTA_EVENTS, plan_feed
from hubnet.server.services.auth import require_route_reader
from hubnet.server.services.context import Controller
from hubnet.server.services.ports import UnitOfWork
from hubnet.server.services.routes import node_routes
from hubnet.wire import RouteEntry, RouteFeed


def authorize(ctl: Controller, *, token: str | None, nodes: bool = True) -> None:
    """Admin or a router agent's secret (in direct mode a node's too, unless `nodes` is False); Unauthenticated /
    Forbidden otherwise."""
    ctl.read(lambda uow: require_route_reader(ctl, uow, token, nodes=nodes))


def entry(name: str, node: NodeRecord | None) -> RouteEntry:
    """A node's entry: its routes (`services.routes.node_routes`) while it is live; none once released or gone
    (generation 0 for a record that no longer exists)."""
    if node is None:
        return RouteEntry(name, 0, [])
    if node.state == LeaseState.RELEASED:
        return RouteEntry(name, node.generation, [])
    routes = [{"prefix": str(r.prefix), "next_hop": str(r.next_hop)} for r in node_routes(node)]
    return RouteEntry(name, node.generation, routes)


def feed(ctl: Controller, *, since: int) -> RouteFeed:
    """The feed after `since`: full (every live node, by name) or a delta (the moved nodes, by name)."""

    def use_case(uow: UnitOfWork) -> RouteFeed:
        # The head, the events up to it and the moved nodes' rows as of one moment (`moves_since`).
        moves = uow.repo.moves_since(since, kinds=FEED_MOVES, limit=MAX_DELTA_EVENTS + 1)
        plan = plan_feed(since, moves.revision, moves.first, moves.nodes)
        if plan.full:
            return _full(uow, moves.revision)
        found = {n.name: n for n in moves.rows}
        return RouteFeed(moves.revision, False, [entry(name, found.get(name)) for name in plan.nodes])

    return ctl.read(use_case)


def _full(uow: UnitOfWork, revision: int) -> RouteFeed:
    live = sorted(uow.repo.live_nodes(), key=lambda n: n.name)
    return RouteFeed(revision, True, [entry(n.name, n) for n in live])
