"""What every use case needs: the database, the settings, pool geometry, metrics hooks, a retrying runner."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar

from hubnet.net import Network, parse_network
from hubnet.server.db.batch import WriteBatcher
from hubnet.server.domain.allocator import PoolSpace
from hubnet.server.domain.errors import ConcurrentChange
from hubnet.server.domain.records import PoolRecord
from hubnet.server.services.ports import Database, UnitOfWork
from hubnet.server.settings import Settings

if TYPE_CHECKING:
    from hubnet.server.services.bgp import PeerStatusSource

T = TypeVar("T")
ATTEMPTS = 8


class Metrics(Protocol):
    def allocated(self) -> None: ...
    def released(self, count: int = 1) -> None: ...


class NoMetrics:
    def allocated(self) -> None:
        pass

    def released(self, count: int = 1) -> None:
        pass


class CountingMetrics:
    """Metrics a test can assert on: how many allocations and releases were counted."""

    def __init__(self) -> None:
        self.allocations = 0
        self.releases = 0

    def allocated(self) -> None:
        self.allocations += 1

    def released(self, count: int = 1) -> None:
        self.releases += count


def hash_secret(secret: str) -> str:
    """sha256: node secrets carry >= 32 random bytes, so a fast hash is enough and keeps registration cheap."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass
class Controller:
    """The service layer's context object (one per app)."""

    db: Database
    settings: Settings
    metrics: Metrics = field(default_factory=NoMetrics)
    # The BGP speaker's live session facts for `GET /v1/bgp/peers` (set by the composition root when the route
    # backend is `bgp`); None: the peers are listed with state "unknown".
    bgp_status: PeerStatusSource | None = None
    _spaces: dict[tuple[str, int], PoolSpace] = field(default_factory=dict)
    _writer: WriteBatcher = field(init=False)

    def __post_init__(self) -> None:
        self._writer = WriteBatcher(self.db)

    def close(self) -> None:
        """Stop the writer thread and close the database connections."""
        self._writer.stop()
        self.db.dispose()

    def space(self, pool: PoolRecord) -> PoolSpace:
        """The pool's geometry (its stored node prefix) with the excluded ranges of its family (that family's
        service CIDR, the router's subnet of that family); cached, pure."""
        key = (pool.cidr, pool.node_prefix)
        if key not in self._spaces:
            family = pool.family
            exclude = [n for n in self.settings.service_cidrs if n.version == family]
            self._spaces[key] = PoolSpace.build(
                parse_network(pool.cidr), pool.node_prefix, exclude=exclude, router=self.settings.router_for(family)
            )
        return self._spaces[key]

    def networks(self, pools: list[PoolRecord]) -> list[Network]:
        """The pools' networks, both families."""
        return [self.space(p).cidr for p in pools]

    def write(self, fn: Callable[[UnitOfWork], T]) -> T:
        """Run `fn` as one write use case (group-committed with concurrent ones, see hubnet.server.db.batch); on a lost
        uniqueness race, retry on fresh data (bounded)."""
        for attempt in range(ATTEMPTS):
            try:
                return self._writer.run(fn)
            except ConcurrentChange:
                if attempt == ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise AssertionError("unreachable")

    async def write_async(self, fn: Callable[[UnitOfWork], T]) -> T:
        """`write` for async handlers: awaits the writer thread instead of blocking a worker thread."""
        for attempt in range(ATTEMPTS):
            try:
                return await asyncio.wrap_future(self._writer.submit(fn))
            except ConcurrentChange:
                if attempt == ATTEMPTS - 1:
                    raise
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise AssertionError("unreachable")

    def read(self, fn: Callable[[UnitOfWork], T]) -> T:
        with self.db.read() as uow:
            return fn(uow)
