"""The pure route plan: what to add, replace and delete so that the routes we own equal the desired ones.

Stdlib only. Both inputs contain only routes hubnet owns (the backend never lists foreign routes), so a plan can
never touch a route someone else made.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network

from hubnet.server.domain.routes import DesiredRoute, Route, RoutePlan


class ConflictingDesired(ValueError):
    """Two desired routes claim the same prefix with different next hops (the allocator forbids this)."""


def desired_table(desired: Iterable[DesiredRoute | Route]) -> dict[IPv4Network, IPv4Address]:
    """prefix → next hop; raises ConflictingDesired naming the prefix when two entries disagree."""
    table: dict[IPv4Network, IPv4Address] = {}
    for item in desired:
        route = item.route if isinstance(item, DesiredRoute) else item
        seen = table.setdefault(route.prefix, route.next_hop)
        if seen != route.next_hop:
            raise ConflictingDesired(f"prefix {route.prefix} desired via both {seen} and {route.next_hop}")
    return table


def plan(desired: Iterable[DesiredRoute | Route], actual: Iterable[Route]) -> RoutePlan:
    """Diff desired against actual (owned) routes; see `plan_table`."""
    return plan_table(desired_table(desired), actual)


def plan_table(want: dict[IPv4Network, IPv4Address], actual: Iterable[Route]) -> RoutePlan:
    """Diff the desired table (prefix → next hop) against the owned routes.

    - prefix desired, not present → add;
    - prefix present with another next hop → ONE replace (never delete + add: no blink for the node's pods);
    - prefix present more than once (duplicates of ours, e.g. added out of band) → the replace keeps one entry
      and the surplus entries are deleted by (prefix, next hop) — backends apply deletes before replaces;
    - prefix present, not desired → delete every owned entry for it.
    Deterministic: adds and replaces follow the desired order, deletes the actual order (not sorted: sorting
    IPv4Network objects costs more than the rest of a 65,536-route plan).
    """
    have: dict[IPv4Network, list[Route]] = {}  # the listed Route objects themselves: deletes reuse them
    for route in actual:
        routes = have.get(route.prefix)
        if routes is None:
            have[route.prefix] = [route]
        elif all(r.next_hop != route.next_hop for r in routes):
            routes.append(route)
    add: list[Route] = []
    replace: list[Route] = []
    delete: list[Route] = []
    for prefix, hop in want.items():
        routes = have.get(prefix)
        if not routes:
            add.append(Route(prefix, hop))
        elif len(routes) == 1:
            if routes[0].next_hop != hop:
                replace.append(Route(prefix, hop))
        elif all(r.next_hop != hop for r in routes):
            replace.append(Route(prefix, hop))
            delete.extend(routes[1:])
        else:
            delete.extend(r for r in routes if r.next_hop != hop)
    for prefix, routes in have.items():
        if prefix not in want:
            delete.extend(routes)
    return RoutePlan(add=tuple(add), replace=tuple(replace), delete=tuple(delete))


def apply_to(actual: Iterable[Route], routes_plan: RoutePlan) -> set[Route]:
    """The owned set after applying `routes_plan` to `actual` the way the kernel does (for tests and fakes).

    Deletes remove exact (prefix, next hop) entries first; a replace then swaps the prefix's remaining entry.
    """
    result = set(actual)
    for route in routes_plan.delete:
        result.discard(route)
    for route in routes_plan.replace:
        result = {r for r in result if r.prefix != route.prefix}
        result.add(route)
    result.update(routes_plan.add)
    return result
