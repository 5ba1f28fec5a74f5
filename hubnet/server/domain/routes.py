"""Route values shared by the route plan, the backends and the reconciler (pure, stdlib only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import NamedTuple


@dataclass(frozen=True, order=True)
class Route:
    """One route hubnet owns on a router: `prefix via next_hop`."""

    prefix: IPv4Network
    next_hop: IPv4Address


class NodeRef(NamedTuple):
    """The node record a route state is about. A report for an older generation or address of the node (a delete +
    re-register, a re-join from a new address while the report was in flight) must not land on the new one."""

    name: str
    generation: int
    address: str


@dataclass(frozen=True)
class DesiredRoute:
    """A route the database wants, with the node it belongs to (to report route_state back).

    `generation` and `state` (the stored route_state, error) come from the database when the controller loads
    the desired set; the reconciler reports a node whose computed state differs from `state`."""

    node: str
    route: Route
    generation: int = 0
    state: tuple[str, str | None] | None = field(default=None, compare=False)

    @property
    def ref(self) -> NodeRef:
        return NodeRef(self.node, self.generation, str(self.route.next_hop))


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

    failed: dict[IPv4Network, str] = field(default_factory=dict)
