"""Route values shared by the route plan, the backends and the reconciler (pure, stdlib only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network


@dataclass(frozen=True, order=True)
class Route:
    """One route hubnet owns on a router: `prefix via next_hop`."""

    prefix: IPv4Network
    next_hop: IPv4Address


@dataclass(frozen=True)
class DesiredRoute:
    """A route the database wants, with the node it belongs to (to report route_state back)."""

    node: str
    route: Route


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
