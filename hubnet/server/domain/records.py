"""Plain records passed between the repository and the services (no ORM objects leave hubnet/server/db)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PoolRecord:
    id: int
    cidr: str
    node_prefix: int
    high_water: int


@dataclass(frozen=True)
class NodeRecord:
    """A node row as stored; `subnet`/`address` are text because a bad row must still be representable."""

    id: int
    name: str
    address: str
    machine_id: str | None
    subnet: str
    pool_id: int | None
    state: str
    generation: int
    secret_hash: str
    expires_at: float
    released_at: float | None
    reissued: bool
    route_state: str
    route_error: str | None


@dataclass(frozen=True)
class EventRecord:
    revision: int
    created_at: float
    type: str
    node: str | None
    data: str
