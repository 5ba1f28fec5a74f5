"""What the use cases need from persistence: a unit of work over a repository, and a database that runs them.

The services are written against these protocols only. Two implementations satisfy them, checked by mypy where
the composition root and the tests hand them to a `Controller`: `hubnet.server.db` (SQLAlchemy: SQLite, PostgreSQL) and
`hubnet.server.db.memory` (in memory, for the service unit tests). Each repository protocol is a handful of methods
named for one concept; the repository is their sum.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from hubnet.server.bgp.peers import PeerRecord
from hubnet.server.domain.records import EventRecord, NodeRecord, PoolRecord, RouterRecord, RouterRouteState
from hubnet.server.domain.routefeed import FEED_MOVES
from hubnet.server.domain.tokens import TokenRecord

log = logging.getLogger("hubnet.db")


class PoolRepository(Protocol):
    def pools(self, *, lock: bool = False) -> list[PoolRecord]:
        """All pools by id; `lock` serializes allocations across controller processes until commit."""
        ...

    def add_pool(self, *, cidr: str, node_prefix: int, now: float) -> int: ...

    def delete_pool(self, pool_id: int) -> int:
        """Delete the pool; its released rows are detached (they can no longer reclaim). Returns how many were."""
        ...

    def set_high_water(self, pool_id: int, value: int) -> None: ...

    def allocated_per_pool(self) -> dict[int | None, int]:
        """Live subnets per pool, both families: a few rows (kept counts), never a scan of the nodes."""
        ...

    def count_drift(self) -> list[tuple[str, str]]:
        """Where the kept counts differ from a real count of the rows (reads every row): (subject, detail) each;
        empty when they agree."""
        ...

    def repair_counts(self) -> None:
        """Set every kept count from a real count of the rows."""
        ...

    def quarantined_per_pool(self, *, since: float) -> dict[int | None, int]:
        """Released subnets, not re-issued, released after `since` (still cooling down), per pool."""
        ...


class NodeRepository(Protocol):
    def node(self, name: str, *, lock: bool = False) -> NodeRecord | None: ...
    def node_name_by_secret(self, secret_hash: str) -> str | None: ...

    def nodes_named(self, names: Collection[str]) -> list[NodeRecord]:
        """The rows (live or released) of these names that exist, in no particular order."""
        ...

    def subnet_in_use(self, subnet: str, *, scan: bool = False) -> bool:
        """A live node holds anything overlapping `subnet`, of its family (unparsable text: only the same text
        clashes). `scan`: the caller goes on to the neighbouring subnets (the never-used pass), so an implementation
        may read around this one at once."""
        ...

    def address_holder(self, address: str) -> str | None:
        """The live node registered with `address` (either family), if any."""
        ...

    def oldest_released(self, pool: PoolRecord) -> NodeRecord | None:
        """The longest-released record holding a subnet of `pool` (of the pool's family) not re-issued yet, whose
        route is `withdrawn` (a route still on a router would send the next holder's traffic to the old node)."""
        ...

    def withdrawing(self) -> list[NodeRecord]:
        """Released records whose route is not yet seen gone from the router (`route_state` `withdrawing`)."""
        ...

    def set_withdrawn(self, node_id: int, generation: int) -> bool:
        """`withdrawing` -> `withdrawn` on that released record (still that generation); True when it changed."""
        ...

    def mark_reissued(self, subnet: str) -> None:
        """Released rows that held `subnet` can no longer reclaim it."""
        ...

    def insert_node(self, **values: Any) -> None: ...
    def update_node(self, node_id: int, **values: Any) -> None: ...
    def delete_node(self, node_id: int) -> None: ...
    def list_nodes(self, *, state: str | None, after: str | None, limit: int) -> list[NodeRecord]: ...
    def live_nodes(self) -> list[NodeRecord]: ...

    def live_page(self, *, after: int, limit: int, lock: bool = False) -> list[NodeRecord]:
        """At most `limit` live rows with an id above `after`, by id; `lock` row-locks them on PostgreSQL."""
        ...

    def nodes_containing(self, ip: str, prefixes: Sequence[int]) -> list[NodeRecord]:
        """Live nodes whose subnet of the family of `ip` holds it (their subnets are one of `prefixes` long)."""
        ...

    def count_by_state(self) -> dict[str, int]:
        """Rows per lease state: kept counts, never a scan of the nodes."""
        ...

    def unvetted_nodes(self, *, lock: bool = False) -> list[NodeRecord]:
        """Live rows that may have changed behind the controller's back since it last checked them (a superset of
        the rows `flagged` reports; the in-memory fake returns every live row); `lock` row-locks them on
        PostgreSQL."""
        ...

    def set_vetted(self, node_ids: Collection[int], *, vetted: bool) -> None:
        """Record the controller's verdict on these rows (checked well formed, or flagged)."""
        ...

    def set_route_state(
        self,
        name: str,
        generation: int,
        address: str,
        state: str,
        error: str | None,
        *,
        v6: tuple[str | None, str | None] | None = None,
    ) -> bool:
        """Store a route state on that live record only (name, generation, primary address; and, when `v6` is given,
        its (subnet6, address6)). True when the row changed."""
        ...

    def set_route_states(self, items: Sequence[RouteStateWrite]) -> list[bool]:
        """`set_route_state` for each item, as few statements as the database allows; whether each row changed."""
        ...

    def backfill_ranges(self) -> int:
        """Fill in whatever the overlap checks need of rows written by hand or an older controller; how many."""
        ...


class LeaseRepository(Protocol):
    """Lease expiry and the lease clock (see hubnet.server.services.reaper)."""

    def expire(
        self, *, state: str, new_state: str, before: float, now: float, marked_before: float | None = None
    ) -> list[NodeRecord]:
        """Move leases in `state` expiring before `before` (and marked before `marked_before`) to `new_state`; a
        release leaves the route state `domain.lease.withdrawal` says."""
        ...

    def extend_expired(self, *, until: float) -> int: ...
    def shift_live_leases(self, *, by: float) -> int: ...
    def alive_at(self, *, lock: bool = False) -> float | None: ...
    def stamp_alive(self, *, now: float) -> None: ...


class EventLog(Protocol):
    def events_since(self, revision: int, limit: int, *, upto: int | None = None) -> list[EventRecord]: ...

    def event_nodes(self, *, after: int, upto: int, kinds: Collection[str], limit: int) -> list[str | None]:
        """The `node` of each event of these kinds with a revision in (after, upto], oldest first, at most `limit`."""
        ...

    def first_revision(self) -> int | None:
        """The oldest event kept (None: no event is)."""
        ...

    def revision(self) -> int: ...

    def moves_since(self, after: int, *, kinds: Collection[str], limit: int) -> Moves:
        """`revision()`, `first_revision()`, `event_nodes(after=after, upto=revision, ...)` and the rows of those
        nodes, as of one moment (one statement on a database): what a commit costs the route reconciler and the
        routers' feed."""
        ...


class TokenRepository(Protocol):
    """Stored bootstrap tokens, found by the sha256 of their value."""

    def by_hash(self, digest: str) -> TokenRecord | None: ...
    def by_id(self, token_id: int) -> TokenRecord | None: ...
    def all(self) -> list[TokenRecord]: ...

    def add(
        self, *, digest: str, description: str, now: float, expires_at: float | None, max_uses: int | None
    ) -> int: ...

    def revoke(self, token_id: int, now: float) -> bool:
        """True when this call revoked it (False: already revoked)."""
        ...

    def consume(self, token_id: int, now: float) -> bool:
        """Count one use if one is left (and the token is neither revoked nor expired); False when none is."""
        ...


class PeerRepository(Protocol):
    """Stored BGP peers, found by their canonical address text (hubnet.server.bgp.peers)."""

    def all(self) -> list[PeerRecord]: ...
    def by_address(self, address: str) -> PeerRecord | None: ...

    def add(self, peer: PeerRecord) -> bool:
        """Store the peer; False (nothing written) when one with its address exists: the database's unique index
        decides, so two processes adding the same address cannot both succeed."""
        ...

    def delete(self, address: str) -> bool:
        """True when a peer with this address was deleted."""
        ...


class RouterRepository(Protocol):
    """Router agents (found by name or by the sha256 of their secret) and each one's route state per node."""

    def all(self) -> list[RouterRecord]:
        """Every router, by name."""
        ...

    def by_name(self, name: str) -> RouterRecord | None: ...
    def by_secret(self, digest: str) -> RouterRecord | None: ...

    def add(self, *, name: str, secret_hash: str, now: float) -> int:
        """Store a new router (status `syncing`); its id."""
        ...

    def update(self, router_id: int, **values: Any) -> None: ...

    def delete(self, router_id: int) -> None:
        """Delete the router and its route states."""
        ...

    def mark_down(self, *, before: float) -> list[str]:
        """`up` and `syncing` routers whose last report (their join, before the first) is older than `before` go
        `down`, in one conditional statement (with several controller processes, once); the names moved."""
        ...

    def save_states(self, router_id: int, rows: Sequence[tuple[int, int, str, str | None]], *, now: float) -> None:
        """Store the router's (node id, generation, state, error) per node, replacing what it had for that node."""
        ...

    def states(self, node_ids: Collection[int] | None = None) -> list[RouterRouteState]:
        """Every router's stored state of these nodes (None: of every node)."""
        ...

    def forget_node(self, node_id: int) -> None:
        """Drop every router's state of the node (its routes moved without a new generation)."""
        ...

    def holds_ready_routes(self, router_id: int) -> bool:
        """Whether the router holds, programmed, the route of every live node whose aggregate is `programmed`."""
        ...

    def set_aggregates(self, rows: Sequence[tuple[int, int, str, str | None]]) -> None:
        """Store each (node id, generation, state, error) as the route state of that live node of that generation."""
        ...


class Repository(PoolRepository, NodeRepository, LeaseRepository, EventLog, Protocol):
    @property
    def tokens(self) -> TokenRepository: ...

    @property
    def bgp_peers(self) -> PeerRepository: ...

    @property
    def routers(self) -> RouterRepository: ...


class UnitOfWork(Protocol):
    """One use case's view of one transaction: what it reads and writes, and what happens once it committed."""

    @property
    def repo(self) -> Repository: ...

    @property
    def now(self) -> float:
        """The transaction's clock (taken after any lock it waited for)."""
        ...

    def emit(self, kind: str, node: str | None, **data: Any) -> None:
        """Record one event; it is appended in this same transaction."""
        ...

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` once this use case committed (never when it was undone)."""
        ...

    def moved(self, record: NodeRecord) -> None:
        """The node's row as this use case leaves it, said after every change of it (a route-moving one or not, so
        that a row said earlier in the batch stays said): the commit hands the rows its route-moving events name to
        this process's reconciler, which then need not read them back (`Commit.rows`, `MovedRows`)."""
        ...


@dataclass(frozen=True)
class Hints:
    """What a write use case will look up, known before it runs (set as its `hints` attribute): node names and
    underlay addresses as text the use case will ask about. A database may read them for the whole batch at once
    (hubnet.server.db.batchcache); one that does not just ignores them."""

    names: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class RouteStateWrite:
    """One `NodeRepository.set_route_state` call's arguments."""

    name: str
    generation: int
    address: str
    state: str
    error: str | None
    v6: tuple[str | None, str | None] | None = None


@dataclass(frozen=True)
class Moves:
    """The event log's head and the nodes moved after a revision (`EventLog.moves_since`)."""

    revision: int  # the last event's
    first: int | None  # the oldest event kept (None: none is)
    nodes: list[str | None]  # the `node` of each event asked for, oldest first
    rows: list[NodeRecord]  # the rows (live or released) of those names that exist, in no particular order


@dataclass(frozen=True)
class Commit:
    """What an after-commit hook of the database learns: the last revision and the kinds of events committed; for a
    commit of this process also the first revision it appended and, when its use cases said them all, the rows of
    the nodes its route-moving events name (`UnitOfWork.moved`), as committed. Another process's commit (learnt
    from the event log) has neither."""

    revision: int | None
    kinds: frozenset[str]
    first: int | None = None
    rows: Mapping[str, NodeRecord] | None = None


def touched(job: Callable[..., Any]) -> frozenset[str] | None:
    """The node names whose rows a write use case may change, from what it says of itself (its `hints`' names, its
    `touches` attribute); None when it says nothing: any row."""
    hints: Hints | None = getattr(job, "hints", None)
    touches: Collection[str] | None = getattr(job, "touches", None)
    if hints is None and touches is None:
        return None
    return frozenset((*(hints.names if hints else ()), *(touches or ())))


class MovedRows:
    """The rows a batch's committed use cases said they left (`UnitOfWork.moved`), kept only while no later use case
    of the batch may have changed them (`touched`): what `Commit.rows` is made of."""

    def __init__(self) -> None:
        self.rows: dict[str, NodeRecord] = {}

    def add(self, job: Callable[..., Any], said: Sequence[NodeRecord]) -> None:
        """A committed job, in batch order, and the rows it said."""
        names = touched(job)
        if names is None:
            self.rows.clear()
        else:
            for name in names:
                self.rows.pop(name, None)
        for record in said:
            self.rows[record.name] = record

    def of(self, events: Sequence[tuple[str, str | None, str]]) -> dict[str, NodeRecord] | None:
        """The rows of the nodes `events`' route-moving events name; None unless every one of them was said."""
        found: dict[str, NodeRecord] = {}
        for kind, name, _ in events:
            if kind not in FEED_MOVES:
                continue
            record = self.rows.get(name) if name is not None else None
            if record is None:
                return None
            found[record.name] = record
        return found


def after_batch(
    callbacks: list[Callable[[], None]],
    hooks: list[Callable[[Commit], None]],
    events: Sequence[tuple[str, str | None, str]],
    revision: int | None,
    moved: MovedRows | None = None,
) -> None:
    """What every database does once a batch committed: the committed use cases' callbacks (a failing one is logged,
    never raised: the batch is committed), then, when it appended events, the hooks."""
    for fn in callbacks:
        try:
            fn()
        except Exception:
            log.exception("after-commit callback failed")
    if events:
        first = None if revision is None else revision - len(events) + 1  # a batch's events are consecutive
        rows = moved.of(events) if moved is not None else None
        commit = Commit(revision, frozenset(kind for kind, _, _ in events), first, rows)
        for hook in hooks:
            hook(commit)


class Database(Protocol):
    @property
    def dialect(self) -> str: ...

    @property
    def after_commit(self) -> list[Callable[[Commit], None]]:
        """Hooks run after every commit that appended events (watchers, route reconcile)."""
        ...

    def read(self) -> AbstractContextManager[UnitOfWork]: ...

    def write_batch(self, jobs: list[Callable[[UnitOfWork], Any]]) -> list[tuple[bool, Any]]:
        """Run several write use cases in one transaction, each undone alone when it fails; per job (True, result)
        or (False, error)."""
        ...

    def dispose(self) -> None: ...
