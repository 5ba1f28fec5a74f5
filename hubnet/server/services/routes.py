"""The controller's side of route programming: desired routes from the database, route state reported back."""

from __future__ import annotations

from collections.abc import Collection
from ipaddress import IPv4Address, IPv4Network

from hubnet.server.domain.lease import RouteState
from hubnet.server.domain.routes import DesiredRoute, NodeRef, Route
from hubnet.server.services.context import Controller
from hubnet.server.services.ports import UnitOfWork

# The events after which the desired routes differ: a subnet got a live holder (a registration, a reclaim), moved to
# another address, or lost its holder (a release: delete or lease expiry). Stale marks and renewals keep the route;
# route-state reports only record what the reconciler did.
ROUTE_MOVES = frozenset({"node.registered", "node.address_changed", "node.subnet_added", "node.released"})


def moves_routes(kinds: Collection[str]) -> bool:
    """Whether a commit with events of these kinds changed the desired routes (and so needs a reconcile)."""
    return not ROUTE_MOVES.isdisjoint(kinds)


def desired(ctl: Controller) -> list[DesiredRoute]:
    """`subnet via address` for every non-released node (stale ones keep their route); bad rows are skipped."""
    result = []
    for node in ctl.read(lambda uow: uow.repo.live_nodes()):
        try:
            route = Route(IPv4Network(node.subnet), IPv4Address(node.address))
        except ValueError:
            continue
        result.append(DesiredRoute(node.name, route, node.generation, (node.route_state, node.route_error)))
    return sorted(result, key=lambda d: d.route)


def report(ctl: Controller, states: dict[NodeRef, tuple[str, str | None]]) -> None:
    """Store each node's route state on the record it was computed for (name, generation, address): a report that
    arrives after a re-join or delete + re-register changes nothing. One `route.programmed` / `route.failed` event
    per actual change."""
    if not states:
        return

    def use_case(uow: UnitOfWork) -> None:
        for ref, (state, error) in sorted(states.items()):
            value = RouteState(state).value
            changed = uow.repo.set_route_state(ref.name, ref.generation, ref.address, value, error)
            if changed and value != RouteState.PENDING:
                uow.emit(f"route.{value}", ref.name, error=error)

    ctl.write(use_case)
