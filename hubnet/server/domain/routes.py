"""Route values shared by the route plan, the backends and the reconciler (pure, stdlib only).

Both families: a route's prefix and next hop are IPv4 or IPv6 together (the planner refuses a mixed one); a node
has at most one route per family (docs/dual-stack.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from hubnet.net import Address, Network


@dataclass(frozen=True, slots=True)
class Route:
    """One route hubnet owns on a router: `prefix via next_hop`, both of one family.

    Ordered by `route_key` (IPv4 before IPv6, then numerically): ipaddress objects of different families do not
    compare, so the dataclass's own tuple order would fail on a dual-stack table.
    """

    prefix: Network
    next_hop: Address

    @property
    def family(self) -> int:
        """4 or 6 (the prefix's; a route that mixes families is refused by the planner)."""
        return self.prefix.version

    def __lt__(self, other: Route) -> bool:
        return route_key(self) < route_key(other)

    def __le__(self, other: Route) -> bool:
        return route_key(self) <= route_key(other)

    def __gt__(self, other: Route) -> bool:
        return route_key(self) > route_key(other)

    def __ge__(self, other: Route) -> bool:
        return route_key(self) >= route_key(other)


_SLOTS: dict[str, Any] = dict(vars(Route))  # the slots' member descriptors
_set_prefix, _set_next_hop = _SLOTS["prefix"].__set__, _SLOTS["next_hop"].__set__


def new_route(prefix: Network, next_hop: Address) -> Route:
    """Route(prefix, next_hop) without the frozen dataclass's __init__ (a listing builds 65,536): the same value."""
    route = object.__new__(Route)
    _set_prefix(route, prefix)
    _set_next_hop(route, next_hop)
    return route


def route_key(route: Route) -> tuple[int, int, int, int]:
    """Sort key: family, network, prefix length, next hop (cheaper than comparing ipaddress objects, too)."""
    prefix = route.prefix
    return prefix.version, int(prefix.network_address), prefix.prefixlen, int(route.next_hop)


class NodeRef(NamedTuple):
    """The node record a route state is about. A report for an older generation or address of the node (a delete +
    re-register, a re-join from a new address while the report was in flight) must not land on the new one.

    `address` is the record's primary address (IPv4 when it has one): the key does not change with the family of
    the route, so a dual-stack node's routes report onto one record."""

    name: str
    generation: int
    address: str
    # The IPv6 route's identity (subnet6, address6) when the report knows it (`checks6`): a re-join that moves the
    # IPv6 address or adds the IPv6 subnet keeps the generation and the (IPv4) primary address, so a report computed
    # for the routes before it must not land on the record after it either.
    subnet6: str | None = None
    address6: str | None = None
    checks6: bool = False


@dataclass(frozen=True, slots=True)
class DesiredRoute:
    """A route the database wants, with the node it belongs to (to report route_state back).

    `generation` and `state` (the stored route_state, error) come from the database when the controller loads
    the desired set; the reconciler reports a node whose computed state differs from `state`. `address` is the
    node's primary address, the report key; None means the route's own next hop (a single-family caller)."""

    node: str
    route: Route
    generation: int = 0
    state: tuple[str, str | None] | None = field(default=None, compare=False)
    address: str | None = field(default=None, compare=False)
    # (subnet6, address6) of the node's record when loaded from the database; None: not known (see NodeRef)
    identity6: tuple[str | None, str | None] | None = field(default=None, compare=False)

    @property
    def ref(self) -> NodeRef:
        address = self.address if self.address is not None else str(self.route.next_hop)
        # tuple.__new__: NodeRef's own __new__ handles keywords and defaults (a full run builds 65,536 of them)
        if self.identity6 is None:
            return _new_ref(NodeRef, (self.node, self.generation, address, None, None, False))
        return _new_ref(NodeRef, (self.node, self.generation, address, *self.identity6, True))


_new_ref = tuple.__new__


class Snapshot(NamedTuple):
    """Every desired route, as of event-log revision `revision` (the reconciler's baseline for `Changes`)."""

    revision: int
    desired: list[DesiredRoute]


class Changes(NamedTuple):
    """What moved after a baseline: the nodes whose routes may differ, and their desired routes now (a released or
    deleted node has none), as of `revision`."""

    revision: int
    nodes: frozenset[str]
    desired: list[DesiredRoute]


class Handed(NamedTuple):
    """A commit of this process as its writer hands it to the reconciler: it appended revisions (base, revision];
    `changes` are its route moves as committed, None when its use cases did not say every moved row (then the
    reconciler reads them)."""

    base: int
    revision: int
    changes: Changes | None


@dataclass(frozen=True)
class RoutePlan:
    """What to change so that actual == desired. `replace` moves an existing prefix to a new next hop."""

    add: tuple[Route, ...] = ()
    replace: tuple[Route, ...] = ()
    delete: tuple[Route, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.add or self.replace or self.delete)


@dataclass(frozen=True)
class ApplyResult:
    """Per-prefix failures of one apply; every prefix not listed succeeded."""

    failed: dict[Network, str] = field(default_factory=dict)
