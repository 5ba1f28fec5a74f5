"""The pure route plan: what to add, replace and delete so that the routes we own equal the desired ones.

Stdlib only. Both inputs contain only routes hubnet owns (the backend never lists foreign routes), so a plan can
never touch a route someone else made. Both families in one table: an IPv4 and an IPv6 prefix never collide, and a
desired route whose prefix and next hop are of different families is refused (`MixedFamilies`), never planned.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from hubnet.net import Network
from hubnet.server.domain.routes import DesiredRoute, Route, RoutePlan


class ConflictingDesired(ValueError):
    """Two desired routes claim the same prefix with different next hops (the allocator forbids this)."""


class MixedFamilies(ValueError):
    """A desired route's prefix and next hop are of different families (an IPv6 subnet via an IPv4 address): a bug
    in whatever built it; the kernel would refuse it or, worse, misread the address."""


def desired_table(desired: Iterable[DesiredRoute | Route]) -> dict[Network, Route]:
    """prefix → the desired route (the objects themselves: a plan reuses them instead of building 65,536 new
    ones); raises ConflictingDesired naming the prefix when two entries disagree and MixedFamilies naming the route
    when its prefix and next hop are of different families."""
    table: dict[Network, Route] = {}
    for item in desired:
        route = item.route if isinstance(item, DesiredRoute) else item
        if route.prefix.version != route.next_hop.version:
            raise MixedFamilies(f"route {route.prefix} via {route.next_hop}: prefix and next hop of different families")
        seen = table.setdefault(route.prefix, route)
        if seen is not route and seen.next_hop != route.next_hop:
            raise ConflictingDesired(f"prefix {route.prefix} desired via both {seen.next_hop} and {route.next_hop}")
    return table


def plan(desired: Iterable[DesiredRoute | Route], actual: Iterable[Route]) -> RoutePlan:
    """Diff desired against actual (owned) routes; see `plan_table`."""
    return plan_table(desired_table(desired), actual)


def plan_table(want: dict[Network, Route], actual: Iterable[Route]) -> RoutePlan:
    """Diff the desired table (prefix → route, from `desired_table`) against the owned routes.

    - prefix desired, not present → add;
    - prefix present with another next hop → ONE replace (never delete + add: no blink for the node's pods);
    - prefix present more than once (duplicates of ours, e.g. added out of band) → the replace keeps one entry
      and the surplus entries are deleted by (prefix, next hop) — backends apply deletes before replaces;
    - prefix present, not desired → delete every owned entry for it.
    Deterministic: adds and replaces follow the desired order, deletes the actual order (not sorted: sorting
    network objects costs more than the rest of a 65,536-route plan). `desired_table` refused any route mixing
    families, so neither does the plan.
    """
    have: dict[Network, list[Route]] = {}  # the listed Route objects themselves: deletes reuse them
    for route in actual:
        routes = have.get(route.prefix)
        if routes is None:
            have[route.prefix] = [route]
        elif all(r.next_hop != route.next_hop for r in routes):
            routes.append(route)
    if not have:  # an empty table (a new router, or after a reboot): everything is an add
        return RoutePlan(add=tuple(want.values()))
    add: list[Route] = []
    replace: list[Route] = []
    delete: list[Route] = []
    for prefix, route in want.items():
        hop = route.next_hop
        routes = have.get(prefix)
        if not routes:
            add.append(route)
        elif len(routes) == 1:
            if routes[0].next_hop != hop:
                replace.append(route)
        elif all(r.next_hop != hop for r in routes):
            replace.append(route)
            delete.extend(routes[1:])
        else:
            delete.extend(r for r in routes if r.next_hop != hop)
    for prefix, routes in have.items():
        if prefix not in want:
            delete.extend(routes)
    return RoutePlan(add=tuple(add), replace=tuple(replace), delete=tuple(delete))


def after_apply(actual: Iterable[Route], routes_plan: RoutePlan, failed: Collection[Network]) -> set[Route]:
    """The owned set once `routes_plan` was applied to `actual` and every prefix but those in `failed` succeeded
    (a failed prefix keeps whatever it had: what the kernel did with it is not known)."""
    if not failed:
        return apply_to(actual, routes_plan)
    done = RoutePlan(
        add=tuple(r for r in routes_plan.add if r.prefix not in failed),
        replace=tuple(r for r in routes_plan.replace if r.prefix not in failed),
        delete=tuple(r for r in routes_plan.delete if r.prefix not in failed),
    )
    return apply_to(actual, done)


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
