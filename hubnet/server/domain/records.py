"""Plain records passed between the repository and the services (no ORM objects leave hubnet/server/db)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PoolRecord:
    id: int
    cidr: str
    node_prefix: int
    high_water: int

    @property
    def family(self) -> int:
        """4 or 6, by the shape of `cidr`."""
        return 6 if ":" in self.cidr else 4


@dataclass(frozen=True)
class NodeRecord:
    """A node row as stored; subnets and addresses are text because a bad row must still be representable.

    One column set per family (docs/dual-stack.md): `address`, `subnet`, `pool_id`, `reissued` are the IPv4 ones,
    `address6`, `subnet6`, `pool6_id`, `reissued6` the IPv6 ones; a family the node does not have is None (at least
    one subnet is set: a CHECK in the schema)."""

    id: int
    name: str
    address: str | None
    machine_id: str | None
    subnet: str | None
    pool_id: int | None
    state: str
    generation: int
    secret_hash: str
    expires_at: float
    released_at: float | None
    reissued: bool
    route_state: str
    route_error: str | None
    address6: str | None = None
    subnet6: str | None = None
    pool6_id: int | None = None
    reissued6: bool = False

    @property
    def subnets(self) -> list[str]:
        """Every subnet the row holds, IPv4 first."""
        return [s for s in (self.subnet, self.subnet6) if s is not None]

    @property
    def addresses(self) -> list[str]:
        """Every underlay address the row holds, IPv4 first."""
        return [a for a in (self.address, self.address6) if a is not None]

    @property
    def primary_address(self) -> str:
        """The first address (IPv4 when there is one): the wire's `address`, the key of route-state reports."""
        return self.addresses[0] if self.addresses else ""

    @property
    def primary_subnet(self) -> str:
        """The first subnet (IPv4 when there is one): the wire's `subnet`."""
        return self.subnets[0] if self.subnets else ""


@dataclass(frozen=True)
class EventRecord:
    revision: int
    created_at: float
    type: str
    node: str | None
    data: str


@dataclass(frozen=True)
class RouterRecord:
    """A router agent row as stored (`status`: syncing | up | down, see hubnet.server.domain.routerstate)."""

    id: int
    name: str
    secret_hash: str
    created_at: float
    last_report_at: float | None
    synced_at: float | None
    status: str
    route_count: int
    missing: int
    unexpected: int
    foreign: int
    last_error: str | None
    applied_revision: int | None


@dataclass(frozen=True)
class RouterRouteState:
    """One router's reported state of one node's routes, for the generation it was reported for."""

    node_id: int
    router: str  # the router's name
    generation: int
    state: str
    error: str | None
