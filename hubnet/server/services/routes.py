"""The controller's side of route programming: desired routes from the database, route state reported back."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from ipaddress import IPv4Address, IPv6Address

from hubnet.net import parse_network
from hubnet.server.domain.lease import LeaseState, RouteState
from hubnet.server.domain.records import NodeRecord
from hubnet.server.domain.routefeed import FEED_MOVES, MAX_DELTA_EVENTS, plan_feed
from hubnet.server.domain.routes import Changes, DesiredRoute, Handed, NodeRef, Route, Snapshot, route_key
from hubnet.server.services.context import Controller
from hubnet.server.services.ports import Commit, RouteStateWrite, UnitOfWork

# The events after which the desired routes differ: a subnet got a live holder (a registration, a reclaim), moved to
# another address, or lost its holder (a release: delete or lease expiry). Stale marks and renewals keep the route;
# route-state reports only record what the reconciler did.
ROUTE_MOVES = frozenset({"node.registered", "node.address_changed", "node.subnet_added", "node.released"})


def moves_routes(kinds: Collection[str]) -> bool:
    """Whether a commit with events of these kinds changed the desired routes (and so needs a reconcile)."""
    return not ROUTE_MOVES.isdisjoint(kinds)


def desired(ctl: Controller) -> list[DesiredRoute]:
    """One route per family for every non-released node (stale ones keep theirs): `subnet via address` (IPv4) and
    `subnet6 via address6` (IPv6). A family whose subnet or address is missing or unparsable gives no route of that
    family; the other family's route is unaffected. Every route of a node reports onto its record, keyed by the
    primary address. IPv4 first, then numerically."""
    return desired_of(ctl.read(lambda uow: uow.repo.live_nodes()))


def desired_of(nodes: Iterable[NodeRecord]) -> list[DesiredRoute]:
    """The desired routes of `nodes` (see `desired`), IPv4 first, then numerically."""
    result = []
    for node in nodes:
        state = (node.route_state, node.route_error)
        for route in node_routes(node):
            identity6 = (node.subnet6, node.address6)
            result.append(DesiredRoute(node.name, route, node.generation, state, node.primary_address, identity6))
    return sorted(result, key=lambda d: route_key(d.route))


def snapshot(ctl: Controller) -> Snapshot:
    """The desired routes with the revision they are as of. The counter is read first (as the route feed does):
    a node read after it may already show a later change, which the next `changes` names again (harmless)."""
    revision, nodes = ctl.read(lambda uow: (uow.repo.revision(), uow.repo.live_nodes()))
    return Snapshot(revision, desired_of(nodes))


def handed(commit: Commit) -> Handed | None:
    """What a commit of this process tells the reconciler (None: another process's commit, placed nowhere): its
    revisions and, when it carries every moved row, the routes now of the nodes its route-moving events name."""
    if commit.first is None or commit.revision is None:
        return None
    moved = None if commit.rows is None else _moved(commit.revision, commit.rows, commit.rows.values())
    return Handed(commit.first - 1, commit.revision, moved)


def _moved(revision: int, names: Collection[str], rows: Iterable[NodeRecord]) -> Changes:
    """The moved nodes and the routes now of those among `rows` that are live (a released one has none)."""
    live = [n for n in rows if n.state != LeaseState.RELEASED]
    return Changes(revision, frozenset(names), desired_of(live))


def changes(ctl: Controller, since: int) -> Changes | None:
    """The nodes whose routes moved after revision `since` and their routes now (none for a released or deleted
    node), or None when the events after `since` are gone or too many (read the whole table instead). One read of
    the event log's index and of the named rows: what a commit costs the reconciler, whatever the cluster's size."""

    def use_case(uow: UnitOfWork) -> Changes | None:
        moves = uow.repo.moves_since(since, kinds=FEED_MOVES, limit=MAX_DELTA_EVENTS + 1)
        feed = plan_feed(since, moves.revision, moves.first, moves.nodes)
        if feed.full:
            return None
        return _moved(moves.revision, feed.nodes, moves.rows)

    return ctl.read(use_case)


def node_routes(node: NodeRecord) -> list[Route]:
    """The node's routes, IPv4 first; a family is skipped when its subnet or address is absent or not of it."""
    found = []
    for subnet, address, family, ip in (
        (node.subnet, node.address, 4, IPv4Address),
        (node.subnet6, node.address6, 6, IPv6Address),
    ):
        if subnet is None or address is None:
            continue
        try:
            # parse_network: the prefix keeps its hash (a full run hashes each one several times)
            found.append(Route(parse_network(subnet, family=family), ip(address)))
        except ValueError:
            continue
    return found


def report(ctl: Controller, states: dict[NodeRef, tuple[str, str | None]]) -> None:
    """Store each node's route state on the record it was computed for (name, generation, primary address; one
    state for all the node's routes, see `reconciler.combine`): a report that arrives after a re-join or delete +
    re-register changes nothing. One `route.programmed` / `route.failed` event per actual change."""
    if states:
        ctl.write(report_job(states))


def report_job(states: dict[NodeRef, tuple[str, str | None]]) -> Callable[[UnitOfWork], None]:
    """`report`'s use case, ready for `ctl.write`; it says which rows it may change (`ports.touched`)."""
    ordered = sorted(states.items(), key=lambda item: (item[0].name, item[0].generation))
    writes = [
        RouteStateWrite(
            ref.name,
            ref.generation,
            ref.address,
            RouteState(state).value,
            error,
            (ref.subnet6, ref.address6) if ref.checks6 else None,
        )
        for ref, (state, error) in ordered
    ]

    def use_case(uow: UnitOfWork) -> None:
        for write, changed in zip(writes, uow.repo.set_route_states(writes), strict=True):
            if changed and write.state != RouteState.PENDING:
                uow.emit(f"route.{write.state}", write.name, error=write.error)

    use_case.touches = tuple(write.name for write in writes)  # type: ignore[attr-defined]
    return use_case


def confirm_withdrawn(ctl: Controller, installed: Callable[[], Collection[Route]]) -> int:
    """After a reconcile: every released record still `withdrawing` none of whose routes is among `installed` (the
    owned routes on the router now) says `withdrawn` from now on, so its subnet may be handed out again. One
    `route.withdrawn` event each; returns how many. Costs one read of an (almost always empty) index otherwise."""
    if not ctl.read(lambda uow: uow.repo.withdrawing()):
        return 0
    present = installed()

    def use_case(uow: UnitOfWork) -> int:
        confirmed = 0
        for node in uow.repo.withdrawing():
            if any(route in present for route in node_routes(node)):
                continue  # still on the router (a failed delete, or a dry run): the subnet stays held
            if uow.repo.set_withdrawn(node.id, node.generation):
                uow.emit("route.withdrawn", node.name, subnet=node.primary_subnet, subnets=node.subnets)
                confirmed += 1
        return confirmed

    return ctl.write(use_case)
