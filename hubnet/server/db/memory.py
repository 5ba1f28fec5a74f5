"""An in-memory database for the service unit tests: the same protocols as the SQLAlchemy one (services.ports),
dicts of frozen records instead of tables. No SQLAlchemy, no SQLite.

It keeps what the use cases rely on: each job of a batch is undone alone when it fails (a snapshot of the state
before it), events get consecutive revisions after the batch, after-commit callbacks and hooks run only for what
committed. It does not model concurrency between processes (one lock serializes everything): that is what the
integration tests against both real databases are for.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from ipaddress import ip_address, ip_network
from typing import Any

from hubnet.net import Network, family_of
from hubnet.server.bgp.peers import PeerRecord
from hubnet.server.domain.errors import HubnetError
from hubnet.server.domain.lease import LeaseState, released_values, withdrawal
from hubnet.server.domain.records import EventRecord, NodeRecord, PoolRecord, RouterRecord, RouterRouteState
from hubnet.server.domain.tokens import TokenRecord
from hubnet.server.services import ports
from hubnet.server.services.ports import Commit, Database, Moves, RouteStateWrite, UnitOfWork

log = logging.getLogger("hubnet.db")
RELEASED = LeaseState.RELEASED.value


@dataclass(frozen=True)
class Row:
    """A node row: the record plus the two timestamps the record does not carry."""

    node: NodeRecord
    created_at: float
    updated_at: float

    @property
    def live(self) -> bool:
        return self.node.state != RELEASED


@dataclass
class State:
    pools: dict[int, PoolRecord] = field(default_factory=dict)
    nodes: dict[int, Row] = field(default_factory=dict)
    tokens: dict[int, TokenRecord] = field(default_factory=dict)
    bgp_peers: dict[str, PeerRecord] = field(default_factory=dict)  # by address, in insertion order
    routers: dict[int, RouterRecord] = field(default_factory=dict)
    # (router id, node id) -> (generation, state, error)
    router_routes: dict[tuple[int, int], tuple[int, str, str | None]] = field(default_factory=dict)
    events: list[EventRecord] = field(default_factory=list)
    alive_at: float | None = None
    next_id: int = 1

    def copy(self) -> State:
        """A snapshot to roll back to (records are frozen: copying the containers is enough)."""
        return replace(
            self,
            pools=dict(self.pools),
            nodes=dict(self.nodes),
            tokens=dict(self.tokens),
            bgp_peers=dict(self.bgp_peers),
            routers=dict(self.routers),
            router_routes=dict(self.router_routes),
            events=[*self.events],
        )

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


def _network(text: str) -> Network | None:
    try:
        return ip_network(text, strict=False)
    except ValueError:
        return None


def _overlaps(a: str | None, b: str) -> bool:
    if a is None:
        return False
    na, nb = _network(a), _network(b)
    return a == b if na is None or nb is None else na.version == nb.version and na.overlaps(nb)


def _subnet(node: NodeRecord, family: int) -> str | None:
    return node.subnet6 if family == 6 else node.subnet


def _pool_id(node: NodeRecord, family: int) -> int | None:
    return node.pool6_id if family == 6 else node.pool_id


def _reissued(node: NodeRecord, family: int) -> bool:
    return node.reissued6 if family == 6 else node.reissued


class MemoryTokens:
    def __init__(self, state: State) -> None:
        self.state = state

    def by_hash(self, digest: str) -> TokenRecord | None:
        return next((t for t in self.state.tokens.values() if t.token_hash == digest), None)

    def by_id(self, token_id: int) -> TokenRecord | None:
        return self.state.tokens.get(token_id)

    def all(self) -> list[TokenRecord]:
        return [self.state.tokens[i] for i in sorted(self.state.tokens)]

    def add(self, *, digest: str, description: str, now: float, expires_at: float | None, max_uses: int | None) -> int:
        token_id = self.state.new_id()
        self.state.tokens[token_id] = TokenRecord(
            id=token_id,
            description=description,
            created_at=now,
            expires_at=expires_at,
            max_uses=max_uses,
            uses=0,
            revoked_at=None,
            token_hash=digest,
        )
        return token_id

    def revoke(self, token_id: int, now: float) -> bool:
        token = self.state.tokens.get(token_id)
        if token is None or token.revoked_at is not None:
            return False
        self.state.tokens[token_id] = replace(token, revoked_at=now)
        return True

    def consume(self, token_id: int, now: float) -> bool:
        token = self.state.tokens.get(token_id)
        if token is None or token.revoked_at is not None:
            return False
        if (token.expires_at is not None and token.expires_at <= now) or (
            token.max_uses is not None and token.uses >= token.max_uses
        ):
            return False
        self.state.tokens[token_id] = replace(token, uses=token.uses + 1)
        return True


class MemoryPeers:
    def __init__(self, state: State) -> None:
        self.state = state

    def all(self) -> list[PeerRecord]:
        return list(self.state.bgp_peers.values())

    def by_address(self, address: str) -> PeerRecord | None:
        return self.state.bgp_peers.get(address)

    def add(self, peer: PeerRecord) -> bool:
        if peer.address in self.state.bgp_peers:
            return False
        self.state.bgp_peers[peer.address] = peer
        return True

    def delete(self, address: str) -> bool:
        return self.state.bgp_peers.pop(address, None) is not None


class MemoryRouters:
    def __init__(self, state: State) -> None:
        self.state = state

    def all(self) -> list[RouterRecord]:
        return sorted(self.state.routers.values(), key=lambda r: r.name)

    def by_name(self, name: str) -> RouterRecord | None:
        return next((r for r in self.state.routers.values() if r.name == name), None)

    def by_secret(self, digest: str) -> RouterRecord | None:
        return next((r for r in self.state.routers.values() if r.secret_hash == digest), None)

    def add(self, *, name: str, secret_hash: str, now: float) -> int:
        if self.by_name(name) is not None:
            raise AssertionError(f"duplicate router name {name!r}")  # the real schema refuses it too
        router_id = self.state.new_id()
        self.state.routers[router_id] = RouterRecord(
            router_id, name, secret_hash, now, None, None, "syncing", 0, 0, 0, 0, None, None
        )
        return router_id

    def update(self, router_id: int, **values: Any) -> None:
        if router_id in self.state.routers:
            self.state.routers[router_id] = replace(self.state.routers[router_id], **values)

    def delete(self, router_id: int) -> None:
        self.state.routers.pop(router_id, None)
        for key in [k for k in self.state.router_routes if k[0] == router_id]:
            del self.state.router_routes[key]

    def mark_down(self, *, before: float) -> list[str]:
        moved = []
        for router in list(self.state.routers.values()):
            seen = router.last_report_at if router.last_report_at is not None else router.created_at
            if router.status in ("up", "syncing") and seen < before:
                self.state.routers[router.id] = replace(router, status="down")
                moved.append(router.name)
        return sorted(moved)

    def save_states(self, router_id: int, rows: Sequence[tuple[int, int, str, str | None]], *, now: float) -> None:
        for node_id, generation, state, error in rows:
            self.state.router_routes[(router_id, node_id)] = (generation, state, error)

    def states(self, node_ids: Collection[int] | None = None) -> list[RouterRouteState]:
        wanted = None if node_ids is None else set(node_ids)
        return [
            RouterRouteState(node_id, self.state.routers[router_id].name, generation, state, error)
            for (router_id, node_id), (generation, state, error) in sorted(self.state.router_routes.items())
            if wanted is None or node_id in wanted
        ]

    def forget_node(self, node_id: int) -> None:
        for key in [k for k in self.state.router_routes if k[1] == node_id]:
            del self.state.router_routes[key]

    def holds_ready_routes(self, router_id: int) -> bool:
        for row in self.state.nodes.values():
            n = row.node
            if row.live and n.route_state == "programmed":
                held = self.state.router_routes.get((router_id, n.id))
                if held is None or held[0] != n.generation or held[1] != "programmed":
                    return False
        return True

    def set_aggregates(self, rows: Sequence[tuple[int, int, str, str | None]]) -> None:
        for node_id, generation, state, error in rows:
            row = self.state.nodes.get(node_id)
            if row is not None and row.live and row.node.generation == generation:
                node = replace(row.node, route_state=state, route_error=error)
                self.state.nodes[node_id] = Row(node, row.created_at, row.updated_at)


class MemoryRepository:
    """The repository protocol over a `State` (the caller holds the database lock)."""

    def __init__(self, state: State) -> None:
        self.state = state
        self._tokens = MemoryTokens(state)
        self._peers = MemoryPeers(state)
        self._routers = MemoryRouters(state)

    @property
    def tokens(self) -> MemoryTokens:
        return self._tokens

    @property
    def bgp_peers(self) -> MemoryPeers:
        return self._peers

    @property
    def routers(self) -> MemoryRouters:
        return self._routers

    def _rows(self, *, live: bool = False) -> list[Row]:
        return [row for _, row in sorted(self.state.nodes.items()) if row.live or not live]

    def _set(self, row: Row, **values: Any) -> Row:
        updated_at = values.pop("updated_at", row.updated_at)
        new = Row(replace(row.node, **values), row.created_at, updated_at)
        self.state.nodes[row.node.id] = new
        return new

    # pools
    def pools(self, *, lock: bool = False) -> list[PoolRecord]:
        return [self.state.pools[i] for i in sorted(self.state.pools)]

    def add_pool(self, *, cidr: str, node_prefix: int, now: float) -> int:
        pool_id = self.state.new_id()
        self.state.pools[pool_id] = PoolRecord(pool_id, cidr, node_prefix, 0)
        return pool_id

    def delete_pool(self, pool_id: int) -> int:
        detached = 0
        for row in self._rows():
            if row.node.state != RELEASED:
                continue
            if row.node.pool_id == pool_id:
                row = self._set(row, pool_id=None, reissued=True)
                detached += 1
            if row.node.pool6_id == pool_id:
                self._set(row, pool6_id=None, reissued6=True)
                detached += 1
        del self.state.pools[pool_id]
        return detached

    def set_high_water(self, pool_id: int, value: int) -> None:
        self.state.pools[pool_id] = replace(self.state.pools[pool_id], high_water=value)

    def allocated_per_pool(self) -> dict[int | None, int]:
        counts: dict[int | None, int] = {}
        for row in self._rows(live=True):
            for family in (4, 6):
                if _subnet(row.node, family) is not None:
                    pool_id = _pool_id(row.node, family)
                    counts[pool_id] = counts.get(pool_id, 0) + 1
        return counts

    def quarantined_per_pool(self, *, since: float) -> dict[int | None, int]:
        counts: dict[int | None, int] = {}
        for row in self._rows():
            n = row.node
            if n.state != RELEASED or n.released_at is None or n.released_at <= since:
                continue
            for family in (4, 6):
                if _subnet(n, family) is not None and not _reissued(n, family):
                    pool_id = _pool_id(n, family)
                    counts[pool_id] = counts.get(pool_id, 0) + 1
        return counts

    # nodes
    def node(self, name: str, *, lock: bool = False) -> NodeRecord | None:
        return next((r.node for r in self._rows() if r.node.name == name), None)

    def node_name_by_secret(self, secret_hash: str) -> str | None:
        return next((r.node.name for r in self._rows() if r.node.secret_hash == secret_hash), None)

    def nodes_named(self, names: Collection[str]) -> list[NodeRecord]:
        wanted = set(names)
        return [r.node for r in self._rows() if r.node.name in wanted]

    def subnet_in_use(self, subnet: str, *, scan: bool = False) -> bool:
        family = family_of(subnet)
        return any(_overlaps(_subnet(r.node, family), subnet) for r in self._rows(live=True))

    def address_holder(self, address: str) -> str | None:
        return next((r.node.name for r in self._rows(live=True) if address in r.node.addresses), None)

    def oldest_released(self, pool: PoolRecord) -> NodeRecord | None:
        family = pool.family
        rows = [
            r.node
            for r in self._rows()
            if _pool_id(r.node, family) == pool.id
            and r.node.state == RELEASED
            and not _reissued(r.node, family)
            and r.node.route_state == "withdrawn"
        ]
        return min(rows, key=lambda n: (n.released_at or 0.0, n.id), default=None)

    def withdrawing(self) -> list[NodeRecord]:
        return [r.node for r in self._rows() if r.node.state == RELEASED and r.node.route_state == "withdrawing"]

    def set_withdrawn(self, node_id: int, generation: int) -> bool:
        row = self.state.nodes.get(node_id)
        if row is None or (row.node.state, row.node.route_state) != (RELEASED, "withdrawing"):
            return False
        if row.node.generation != generation:
            return False
        self._set(row, route_state="withdrawn", route_error=None)
        return True

    def mark_reissued(self, subnet: str) -> None:
        family = family_of(subnet)
        for row in self._rows():
            if _subnet(row.node, family) == subnet and row.node.state == RELEASED:
                self._set(row, **{"reissued6" if family == 6 else "reissued": True})

    def insert_node(self, **values: Any) -> None:
        created_at, updated_at = values.pop("created_at"), values.pop("updated_at")
        if any(r.node.name == values["name"] for r in self._rows()):
            raise AssertionError(f"duplicate node name {values['name']!r}")  # the real schema refuses it too
        node_id = self.state.new_id()
        self.state.nodes[node_id] = Row(NodeRecord(id=node_id, **values), created_at, updated_at)

    def update_node(self, node_id: int, **values: Any) -> None:
        if node_id in self.state.nodes:
            self._set(self.state.nodes[node_id], **values)

    def delete_node(self, node_id: int) -> None:
        self.state.nodes.pop(node_id, None)
        self._routers.forget_node(node_id)  # ON DELETE CASCADE

    def list_nodes(self, *, state: str | None, after: str | None, limit: int) -> list[NodeRecord]:
        rows = sorted((r.node for r in self._rows()), key=lambda n: n.name)
        rows = [n for n in rows if (not state or n.state == state) and (not after or n.name > after)]
        return rows[:limit]

    def live_nodes(self) -> list[NodeRecord]:
        return [r.node for r in self._rows(live=True)]

    def live_page(self, *, after: int, limit: int, lock: bool = False) -> list[NodeRecord]:
        return sorted((n for n in self.live_nodes() if n.id > after), key=lambda n: n.id)[:limit]

    def nodes_containing(self, ip: str, prefixes: Sequence[int]) -> list[NodeRecord]:
        address = ip_address(ip)
        return [
            r.node
            for r in self._rows(live=True)
            if (text := _subnet(r.node, address.version))
            and (net := _network(text))
            and net.prefixlen in prefixes
            and address in net
        ]

    def count_by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self._rows():
            counts[row.node.state] = counts.get(row.node.state, 0) + 1
        return counts

    # Counts here are computed from the rows each time, so they cannot drift, and every live row is a candidate
    # for flags: the fake has no hand edits to catch.
    def count_drift(self) -> list[tuple[str, str]]:
        return []

    def repair_counts(self) -> None:
        return None

    def unvetted_nodes(self, *, lock: bool = False) -> list[NodeRecord]:
        return self.live_nodes()

    def set_vetted(self, node_ids: Collection[int], *, vetted: bool) -> None:
        return None

    def set_route_states(self, items: Sequence[RouteStateWrite]) -> list[bool]:
        return [self.set_route_state(i.name, i.generation, i.address, i.state, i.error, v6=i.v6) for i in items]

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
        for row in self._rows(live=True):
            n = row.node
            if v6 is not None and (n.subnet6, n.address6) != v6:
                continue
            if (n.name, n.generation, n.primary_address) == (name, generation, address):
                if (n.route_state, n.route_error) == (state, error):
                    return False
                self._set(row, route_state=state, route_error=error)
                return True
        return False

    def backfill_ranges(self) -> int:
        return 0  # nothing derived is stored here

    # leases
    def expire(
        self, *, state: str, new_state: str, before: float, now: float, marked_before: float | None = None
    ) -> list[NodeRecord]:
        values: dict[str, Any] = {"state": new_state, "updated_at": now}
        moved = []
        for row in self._rows():
            n = row.node
            if n.state == state and n.expires_at < before and (marked_before is None or row.updated_at < marked_before):
                if new_state == RELEASED:
                    values.update(released_values(now, route=withdrawal(n.route_state, n.route_error)))
                moved.append(self._set(row, **values).node)
        return moved

    def extend_expired(self, *, until: float) -> int:
        rows = [r for r in self._rows(live=True) if r.node.expires_at < until]
        for row in rows:
            self._set(row, expires_at=until)
        return len(rows)

    def shift_live_leases(self, *, by: float) -> int:
        rows = self._rows(live=True)
        for row in rows:
            self._set(row, expires_at=row.node.expires_at + by)
        return len(rows)

    def alive_at(self, *, lock: bool = False) -> float | None:
        return self.state.alive_at

    def stamp_alive(self, *, now: float) -> None:
        if self.state.alive_at is None or self.state.alive_at < now:
            self.state.alive_at = now

    # events
    def events_since(self, revision: int, limit: int, *, upto: int | None = None) -> list[EventRecord]:
        last = upto if upto is not None else 2**62
        return [e for e in self.state.events if revision < e.revision <= last][:limit]

    def event_nodes(self, *, after: int, upto: int, kinds: Collection[str], limit: int) -> list[str | None]:
        return [e.node for e in self.state.events if after < e.revision <= upto and e.type in kinds][:limit]

    def first_revision(self) -> int | None:
        return self.state.events[0].revision if self.state.events else None

    def moves_since(self, after: int, *, kinds: Collection[str], limit: int) -> Moves:
        revision = self.revision()
        moved = self.event_nodes(after=after, upto=revision, kinds=kinds, limit=limit)
        rows = self.nodes_named({name for name in moved if name}) if moved else []
        return Moves(revision, self.first_revision(), moved, rows)

    def revision(self) -> int:
        return self.state.events[-1].revision if self.state.events else 0


class MemoryUnitOfWork:
    def __init__(self, repo: MemoryRepository, now: float) -> None:
        self.repo = repo
        self.now = now
        self.events: list[tuple[str, str | None, str]] = []
        self.committed: list[Callable[[], None]] = []
        self.said: list[NodeRecord] = []

    def emit(self, kind: str, node: str | None, **data: Any) -> None:
        self.events.append((kind, node, json.dumps(data, sort_keys=True, default=str)))

    def after_commit(self, fn: Callable[[], None]) -> None:
        self.committed.append(fn)

    def moved(self, record: NodeRecord) -> None:
        self.said.append(record)


class MemoryDatabase:
    """`hubnet.server.services.ports.Database` in memory; `state` is there to look at (and to arrange) in tests."""

    dialect = "memory"

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.state = State()
        self.batches: list[int] = []  # the size of every batch run, in order
        self._hooks: list[Callable[[Commit], None]] = []
        self._lock = threading.Lock()

    @property
    def after_commit(self) -> list[Callable[[Commit], None]]:
        return self._hooks

    @contextmanager
    def read(self) -> Iterator[UnitOfWork]:
        with self._lock:
            yield MemoryUnitOfWork(MemoryRepository(self.state.copy()), self.clock())

    def write_batch(self, jobs: list[Callable[[UnitOfWork], Any]]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        emitted: list[tuple[str, str | None, str]] = []
        committed: list[Callable[[], None]] = []
        moved = ports.MovedRows()
        with self._lock:
            self.batches.append(len(jobs))
            now = self.clock()
            for job in jobs:
                before = self.state.copy()
                uow = MemoryUnitOfWork(MemoryRepository(self.state), now)
                try:
                    outcomes.append((True, job(uow)))
                except Exception as error:
                    if not isinstance(error, HubnetError):
                        log.error("write use case failed; only its own request fails", exc_info=error)
                    self.state = before
                    outcomes.append((False, error))
                    continue
                emitted.extend(uow.events)
                committed.extend(uow.committed)
                moved.add(job, uow.said)
            revision = self._append(emitted, now)
        ports.after_batch(committed, self._hooks, emitted, revision, moved)
        return outcomes

    def _append(self, items: list[tuple[str, str | None, str]], now: float) -> int | None:
        first = self.state.events[-1].revision + 1 if self.state.events else 1
        for i, (kind, node, data) in enumerate(items):
            self.state.events.append(EventRecord(first + i, now, kind, node, data))
        return first + len(items) - 1 if items else None

    def dispose(self) -> None:
        return None


def _satisfies(db: MemoryDatabase) -> Database:
    return db  # checked by mypy: the fake keeps up with the protocol the SQLAlchemy database satisfies in app.py
