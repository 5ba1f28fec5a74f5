"""Queries, one method per question, over one connection inside the unit of work. Never commits.

Every hot-path query is a point lookup or an ordered LIMIT 1 on an index, so a registration costs the same at
60,000 nodes as at 0. Statements are built once (module level, bound parameters): building a Core statement per
call costs about four times as much as executing a cached one.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from ipaddress import ip_address, ip_interface, ip_network
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    CompoundSelect,
    Connection,
    Executable,
    Select,
    Update,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hubnet.net import family_of, split_ipv4
from hubnet.server.db.batchcache import BatchCache
from hubnet.server.db.bgp import PeerQueries
from hubnet.server.db.counts import BACKFILL
from hubnet.server.db.listen import CHANNEL, payload
from hubnet.server.db.models import (
    UNVETTED,
    Inet,
    controller_clock,
    events,
    node_state_counts,
    nodes,
    pools,
    revision_counter,
)
from hubnet.server.db.ranges import backfill_all, hex128, net6_range, net_range, supernet_starts
from hubnet.server.db.routers import NODELESS as ROUTER_NODELESS
from hubnet.server.db.routers import READS as ROUTER_READS
from hubnet.server.db.routers import RouterQueries, chunks
from hubnet.server.db.statements import Statements
from hubnet.server.db.tokens import TokenQueries
from hubnet.server.domain.lease import RouteState, released_values
from hubnet.server.domain.records import EventRecord, NodeRecord, PoolRecord
from hubnet.server.services.ports import Hints, Moves, RouteStateWrite

_NODE_COLS = [getattr(nodes.c, f) for f in NodeRecord.__dataclass_fields__]
# A literal, not a bound parameter: the planner only uses the partial indexes and the exclusion constraint's gist
# index (all `WHERE state <> 'released'`) when it can prove the predicate from the query text.
LIVE = nodes.c.state != literal_column("'released'")

_POOLS = select(pools.c.id, pools.c.cidr, pools.c.node_prefix, pools.c.high_water).order_by(pools.c.id)
_POOLS_LOCKED = _POOLS.with_for_update()
_ADD_POOL = insert(pools).returning(pools.c.id)
_SET_HIGH_WATER = update(pools).where(pools.c.id == bindparam("pool_id")).values(high_water=bindparam("value"))
_DELETE_POOL = pools.delete().where(pools.c.id == bindparam("pool_id"))
# Ordered by the primary key, so PostgreSQL reads them through it: every counter change leaves a dead row version
# until (auto)vacuum, and a sequential scan of a counter table bloated by a burst of registrations reads them all
# (6 ms after 65,536 registrations), while the index skips them once marked dead.
_POOL_COUNTS = select(pools.c.id, pools.c.allocated).order_by(pools.c.id)
_STATE_COUNTS = select(node_state_counts.c.state, node_state_counts.c.n).order_by(node_state_counts.c.state)
_COUNT_STATES = select(nodes.c.state, func.count()).group_by(nodes.c.state)
_REPAIR = [text(statement) for statement in BACKFILL]
# The partial index ix_nodes_unvetted (migration 0012) is used only when the query states its predicate as text.
_UNVETTED = select(*_NODE_COLS).where(UNVETTED)
_LIVE_PAGE = (
    select(*_NODE_COLS).where(LIVE, nodes.c.id > bindparam("after")).order_by(nodes.c.id).limit(bindparam("limit"))
)
_LIVE_PAGE_LOCKED = _LIVE_PAGE.with_for_update()
_UNVETTED_LOCKED = _UNVETTED.with_for_update()
_VET = (
    update(nodes)
    .where(nodes.c.id.in_(bindparam("ids", expanding=True)), nodes.c.vetted != bindparam("b_vetted"))
    .values(vetted=bindparam("b_vetted"))
)


@dataclass(frozen=True)
class _Family:
    """One family's columns (docs/dual-stack.md: `address`, `subnet`, ... for IPv4, `address6`, ... for IPv6) and
    the statements over them, built once."""

    bits: int
    address: Column[Any]
    subnet: Column[Any]
    pool_id: Column[Any]
    reissued: Column[Any]
    lo: Column[Any]
    hi: Column[Any]

    @cached_property
    def allocated(self) -> Select[Any]:
        return select(self.pool_id, func.count()).where(LIVE, self.subnet.is_not(None)).group_by(self.pool_id)

    @cached_property
    def detach_released(self) -> Update:
        # Released rows of a deleted pool keep their history but can never reclaim a subnet of it.
        return (
            update(nodes)
            .where(self.pool_id == bindparam("b_pool"), nodes.c.state == "released")
            .values({self.pool_id: None, self.reissued: True})
        )

    @cached_property
    def in_use_eq(self) -> Select[Any]:
        return select(nodes.c.id).where(self.subnet == bindparam("subnet", type_=Inet()), LIVE).limit(1)

    @cached_property
    def in_use_range(self) -> CompoundSelect[Any]:
        # SQLite: a live row overlaps [lo, hi] when it starts inside it, or starts where a network containing it
        # starts (rows are CIDR-aligned) and reaches lo. Two index searches (a UNION ALL: with an OR SQLite scans
        # the index).
        return union_all(
            select(nodes.c.id).where(LIVE, self.lo.between(bindparam("lo"), bindparam("hi"))),
            select(nodes.c.id).where(
                LIVE, self.lo.in_(bindparam("starts", expanding=True)), self.hi >= bindparam("lo")
            ),
        ).limit(1)

    @cached_property
    def ranges_in(self) -> CompoundSelect[Any]:
        # `in_use_range` for a whole window: every live row's range that overlaps [lo, hi].
        return union_all(
            select(self.lo, self.hi).where(LIVE, self.lo.between(bindparam("lo"), bindparam("hi"))),
            select(self.lo, self.hi).where(
                LIVE, self.lo.in_(bindparam("starts", expanding=True)), self.hi >= bindparam("lo")
            ),
        )

    @cached_property
    def subnets_in_pg(self) -> Select[Any]:
        return select(self.subnet).where(self.subnet.op("&&")(bindparam("subnet", type_=Inet())), LIVE)

    @cached_property
    def holders(self) -> Select[Any]:
        return select(self.address, nodes.c.name).where(
            self.address.in_(bindparam("addresses", expanding=True, type_=Inet())), LIVE
        )

    @cached_property
    def in_use_pg(self) -> Select[Any]:
        return select(nodes.c.id).where(self.subnet.op("&&")(bindparam("subnet", type_=Inet())), LIVE).limit(1)

    @cached_property
    def holder(self) -> Select[Any]:
        return select(nodes.c.name).where(self.address == bindparam("address", type_=Inet()), LIVE).limit(1)

    @cached_property
    def oldest_released(self) -> Select[Any]:
        return (
            select(*_NODE_COLS)
            .where(
                self.pool_id == bindparam("pool_id"),
                nodes.c.state == "released",
                self.reissued.is_(False),
                nodes.c.route_state == "withdrawn",
            )
            .order_by(nodes.c.released_at, nodes.c.id)
            .limit(1)
        )

    @cached_property
    def mark_reissued(self) -> Update:
        return (
            update(nodes)
            .where(self.subnet == bindparam("old_subnet", type_=Inet()), nodes.c.state == "released")
            .values({self.reissued: True})
        )

    @cached_property
    def containing_pg(self) -> Select[Any]:
        return select(*_NODE_COLS).where(self.subnet.op(">>=")(bindparam("ip", type_=Inet())), LIVE).limit(1)

    @cached_property
    def quarantined(self) -> Select[Any]:
        # One pool at a time: a range search on ix_nodes_pool_id_reuse / ix_nodes_pool6_id_reuse (pool, state,
        # reissued, released_at) that reads only the subnets still cooling down, however many rows the pool has.
        return select(func.count()).where(
            self.pool_id == bindparam("pool_id"),
            nodes.c.state == "released",
            self.reissued.is_(False),
            nodes.c.released_at > bindparam("since"),
            self.subnet.is_not(None),
        )

    def bound(self, value: int) -> int | str:
        """An address as its range column stores it (an integer for IPv4, 32-digit hex for IPv6)."""
        return value if self.bits == 32 else hex128(value)


c = nodes.c
FAMILIES = {
    4: _Family(32, c.address, c.subnet, c.pool_id, c.reissued, c.net_lo, c.net_hi),
    6: _Family(128, c.address6, c.subnet6, c.pool6_id, c.reissued6, c.net6_lo, c.net6_hi),
}
del c
_BOTH = (FAMILIES[4], FAMILIES[6])

_NODE = select(*_NODE_COLS).where(nodes.c.name == bindparam("name"))
_NODES_NAMED = select(*_NODE_COLS).where(nodes.c.name.in_(bindparam("names", expanding=True)))
_NODE_LOCKED = _NODE.with_for_update()
_NODES_NAMED_LOCKED = _NODES_NAMED.with_for_update()
# A literal, as LIVE: the partial index ix_nodes_withdrawing (migration 0011c) is used only when the query says so.
_WITHDRAWING = select(*_NODE_COLS).where(
    nodes.c.route_state == literal_column("'withdrawing'"), nodes.c.state == "released"
)
_SET_WITHDRAWN = (
    update(nodes)
    .where(
        nodes.c.id == bindparam("node_id"),
        nodes.c.generation == bindparam("b_generation"),
        nodes.c.state == "released",
        nodes.c.route_state == literal_column("'withdrawing'"),
    )
    .values(route_state="withdrawn", route_error=None)
)
# domain.lease.withdrawal, per row, for the reaper's bulk release: `withdrawn` only when no reconciler ever reported.
_WITHDRAWAL = case(
    (and_(nodes.c.route_state == "pending", nodes.c.route_error.is_(None)), literal_column("'withdrawn'")),
    else_=literal_column("'withdrawing'"),
)
_BY_SECRET = select(nodes.c.name).where(nodes.c.secret_hash == bindparam("digest")).limit(1)
_INSERT_NODE = insert(nodes)
_UPDATE_NODE = update(nodes).where(nodes.c.id == bindparam("node_id"))
_DELETE_NODE = nodes.delete().where(nodes.c.id == bindparam("node_id"))
_BUMP = (
    update(revision_counter)
    .where(revision_counter.c.id == 1)
    .values(value=revision_counter.c.value + bindparam("n"))
    .returning(revision_counter.c.value)
)
_SET_ROUTE_STATE = (
    update(nodes)
    .where(
        nodes.c.name == bindparam("b_name"),
        nodes.c.generation == bindparam("b_generation"),
        # The primary address is the key of route-state reports: the IPv4 one, the IPv6 one on an IPv6-only node.
        func.coalesce(nodes.c.address, nodes.c.address6) == bindparam("b_address", type_=Inet()),
        # The IPv6 route's identity, when the report carries it (see domain.routes.NodeRef).
        or_(
            ~bindparam("b_checks6", type_=Boolean()),
            and_(
                nodes.c.subnet6.is_not_distinct_from(bindparam("b_subnet6", type_=Inet())),
                nodes.c.address6.is_not_distinct_from(bindparam("b_address6", type_=Inet())),
            ),
        ),
        LIVE,
        ~and_(
            nodes.c.route_state == bindparam("b_state"),
            nodes.c.route_error.is_not_distinct_from(bindparam("b_error", type_=nodes.c.route_error.type)),
        ),
    )
    .values(route_state=bindparam("b_state"), route_error=bindparam("b_error"))
)
STATES_CHUNK = 5000  # route states stored per statement (`Repository.set_route_states`)
# _SET_ROUTE_STATE for many states in one statement: an UPDATE from their rows, returning the (name, generation) of
# each row it changed. The rows travel as ONE JSON parameter, so the statement is the same text for any number of
# them (SQLAlchemy compiles and caches it once; a list of bound rows would be a new statement per count, and
# building its cache key walks every parameter). Same conditions, row for row; (name, generation) must be distinct
# among the rows, so a nodes row matches at most one of them.
_STATES_WHERE = """
WHERE nodes.name = v.name AND nodes.generation = v.generation
  AND coalesce(nodes.address, nodes.address6) = v.address
  AND (NOT v.checks6 OR (nodes.subnet6 {same} v.subnet6 AND nodes.address6 {same} v.address6))
  AND nodes.state <> 'released'
  AND NOT (nodes.route_state = v.state AND nodes.route_error {same} v.error)
"""
_SET_ROUTE_STATES_SQLITE = text(
    "WITH v AS (SELECT json_extract(value, '$.name') AS name, json_extract(value, '$.generation') AS generation,"
    " json_extract(value, '$.address') AS address, json_extract(value, '$.state') AS state,"
    " json_extract(value, '$.error') AS error, json_extract(value, '$.checks6') AS checks6,"
    " json_extract(value, '$.subnet6') AS subnet6, json_extract(value, '$.address6') AS address6"
    " FROM json_each(:states))"
    " UPDATE nodes SET route_state = v.state, route_error = v.error FROM v"
    + _STATES_WHERE.format(same="IS")
    + " RETURNING name, generation"
)
_SET_ROUTE_STATES_PG = text(
    "WITH v AS (SELECT * FROM jsonb_to_recordset(CAST(:states AS jsonb)) AS r(name text, generation integer,"
    " address inet, state text, error text, checks6 boolean, subnet6 inet, address6 inet))"
    " UPDATE nodes SET route_state = v.state, route_error = v.error FROM v"
    + _STATES_WHERE.format(same="IS NOT DISTINCT FROM")
    + " RETURNING nodes.name, nodes.generation"
)


# The lease clock (see hubnet.server.services.reaper.resume_leases): stamped forward only, so a pass that committed late
# never moves it back; shifting touches neither `state` nor `updated_at` (the stale mark the release rule reads).
# Stamping is an upsert: a row deleted by hand comes back at the next pass instead of every start falling back to
# the one-TTL rule.
_ALIVE_AT = select(controller_clock.c.alive_at).where(controller_clock.c.id == 1)
_ALIVE_AT_LOCKED = _ALIVE_AT.with_for_update()
_STAMP_ROW: dict[str, Any] = {"id": 1, "alive_at": bindparam("now")}
_STAMP_SET: dict[str, Any] = {"alive_at": bindparam("now")}
_STAMP_NEWER = or_(controller_clock.c.alive_at.is_(None), controller_clock.c.alive_at < bindparam("now"))
_STAMP_ALIVE_PG = (
    pg_insert(controller_clock)
    .values(_STAMP_ROW)
    .on_conflict_do_update(index_elements=[controller_clock.c.id], set_=_STAMP_SET, where=_STAMP_NEWER)
)
_STAMP_ALIVE_SQLITE = (
    sqlite_insert(controller_clock)
    .values(_STAMP_ROW)
    .on_conflict_do_update(index_elements=[controller_clock.c.id], set_=_STAMP_SET, where=_STAMP_NEWER)
)
_SHIFT_LIVE = update(nodes).where(LIVE).values(expires_at=nodes.c.expires_at + bindparam("by"))
_EXTEND_EXPIRED = (
    update(nodes).where(LIVE, nodes.c.expires_at < bindparam("until")).values(expires_at=bindparam("until"))
)
_INSERT_EVENT = insert(events)
_REVISION = select(revision_counter.c.value).where(revision_counter.c.id == 1)
_EVENTS = (
    select(events.c.revision, events.c.created_at, events.c.type, events.c.node, events.c.data)
    .where(events.c.revision > bindparam("after"), events.c.revision <= bindparam("upto"))
    .order_by(events.c.revision)
    .limit(bindparam("limit"))
)

_EVENT_NODES = (
    select(events.c.node)
    .where(
        events.c.revision > bindparam("after"),
        events.c.revision <= bindparam("upto"),
        events.c.type.in_(bindparam("kinds", expanding=True)),
    )
    .order_by(events.c.revision)
    .limit(bindparam("limit"))
)
_FIRST_REVISION = select(func.min(events.c.revision))
# `moves_since` in one statement (one snapshot, one round trip): the head row always, joined with each moving event
# up to the head (oldest first, at most `limit`) and its node's row when there is one.
_HEAD = select(
    _REVISION.scalar_subquery().label("head_revision"), _FIRST_REVISION.scalar_subquery().label("head_first")
).subquery("head")
_MOVED = (
    select(events.c.revision.label("moved_revision"), events.c.node.label("moved_node"))
    .where(
        events.c.revision > bindparam("after"),
        events.c.revision <= _REVISION.scalar_subquery(),
        events.c.type.in_(bindparam("kinds", expanding=True)),
    )
    .order_by(events.c.revision)
    .limit(bindparam("limit"))
    .subquery("moved")
)
_MOVES = (
    select(_HEAD.c.head_revision, _HEAD.c.head_first, _MOVED.c.moved_revision, _MOVED.c.moved_node, *_NODE_COLS)
    .select_from(_HEAD.outerjoin(_MOVED, true()).outerjoin(nodes, nodes.c.name == _MOVED.c.moved_node))
    .order_by(_MOVED.c.moved_revision)
)
_NOTIFY = select(func.pg_notify(bindparam("channel"), bindparam("payload")))


# Statements the batch cache answers for or keeps up to date itself (see `Repository._before`).
_AWARE = {
    id(s)
    for s in (
        _NODE,
        _NODE_LOCKED,
        _NODES_NAMED,
        _NODES_NAMED_LOCKED,
        _INSERT_NODE,
        _UPDATE_NODE,
        _SET_HIGH_WATER,
        _SET_ROUTE_STATE,
        _SET_ROUTE_STATES_SQLITE,
        _SET_ROUTE_STATES_PG,
        *ROUTER_READS,
        *(
            getattr(f, q)
            for f in _BOTH
            for q in (
                "ranges_in",
                "subnets_in_pg",
                "in_use_range",
                "in_use_pg",
                "in_use_eq",
                "holders",
                "holder",
                "mark_reissued",  # the cache follows it (`BatchCache.reissued`)
            )
        ),
    )
}
# Statements a cached batch defers to `Repository.flush`.
_DEFERRABLE = {id(_INSERT_NODE), id(_SET_HIGH_WATER)}
# Statements of the cache that read no node row: deferred node rows are not written before them (the first
# registration of a batch reads the routers for its answer; its row then goes with the others' in one executemany).
_NODELESS = {id(s) for s in ROUTER_NODELESS}
# Tables whose rows no cached answer is about: a write to them leaves the batch cache as it is.
_UNRELATED = {pools, events, revision_counter, node_state_counts, controller_clock}


def _address_key(stored: str) -> str:
    """A stored address as the use cases ask about it: PostgreSQL may hand back an `inet` with its /32 or /128."""
    try:
        return str(ip_interface(stored).ip)
    except ValueError:
        return stored


def _range_of(text: str) -> tuple[int, int, int, int] | None:
    """(family, first, last, prefix length) of a network's text (host bits allowed, as `inet`); None when it does
    not parse."""
    if (split := split_ipv4(text)) is not None:
        value, plen = split
        host = (1 << (32 - plen)) - 1
        return 4, value & ~host, (value & ~host) | host, plen
    try:
        network = ip_network(text, strict=False)
    except ValueError:
        return None
    return network.version, int(network.network_address), int(network.broadcast_address), network.prefixlen


def _node(row: Any) -> NodeRecord:
    return NodeRecord(*row)


def _ranges(values: dict[str, Any], *, always: bool) -> dict[str, Any]:
    """The range columns of the subnets among `values` (insert: of both families, None for a missing one)."""
    found: dict[str, Any] = {}
    if always or "subnet" in values:
        subnet = values.get("subnet")
        found["net_lo"], found["net_hi"] = net_range(subnet) if subnet is not None else (None, None)
    if always or "subnet6" in values:
        subnet6 = values.get("subnet6")
        found["net6_lo"], found["net6_hi"] = net6_range(subnet6) if subnet6 is not None else (None, None)
    return found


class Repository:
    """`hubnet.server.services.ports.Repository` over one connection. Every statement runs through `Statements`, which
    counts the writes (the batch runner needs to know whether a failed use case wrote anything)."""

    def __init__(self, conn: Connection, dialect: str) -> None:
        self.sql = Statements(conn)
        self.pg = dialect == "postgresql"
        self.tokens = TokenQueries(self.sql)
        self.bgp_peers = PeerQueries(self.sql, pg=self.pg)
        self.routers = RouterQueries(self.sql, pg=self.pg)
        self._pools: tuple[bool, list[PoolRecord]] | None = None  # (locked, pools) for this transaction
        self.cache: BatchCache | None = None  # the batch's fast path only (`start_batch`)
        self._deferred: dict[int, dict[str, Any]] = {}  # high-water marks to write, by pool id
        self._inserts: list[dict[str, Any]] = []  # node rows to write

    def start_batch(self, hints: Sequence[Hints | None]) -> None:
        """Keep answers for this batch (hubnet.server.db.batchcache) and read what its use cases will ask, set-wise:
        the rows of their names (locked, PostgreSQL) and the live holders of their addresses."""
        self.cache = BatchCache()
        self.routers.cache = self.cache
        self.sql.before = self._before
        names = sorted({n for h in hints if h for n in h.names})
        addresses = sorted({a for h in hints if h for a in h.addresses})
        if names:
            query = _NODES_NAMED_LOCKED if self.pg else _NODES_NAMED
            for chunk in chunks(names):
                found = {row.name: _node(row) for row in self.sql.execute(query, {"names": list(chunk)})}
                for name in chunk:
                    self.cache.keep_node(name, found.get(name), locked=True)
        for family in (4, 6):
            wanted = [a for a in addresses if family_of(a) == family]
            for chunk in chunks(wanted):
                self.cache.holders.update(dict.fromkeys(chunk))
                for address, name in self.sql.execute(FAMILIES[family].holders, {"addresses": list(chunk)}):
                    self.cache.holders[_address_key(address)] = name

    def flush(self, *, inserts_only: bool = False) -> None:
        """Write what was deferred: the batch's node rows (one executemany: on PostgreSQL one round trip for the
        batch), then the high-water marks. Before any statement that may read them, and before the commit."""
        writes = self.sql.writes  # counted when deferred, by the use case that deferred them
        while self._inserts:
            rows, self._inserts = self._inserts, []
            by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for row in rows:
                by_columns.setdefault(tuple(row), []).append(row)
            for same in by_columns.values():
                self.sql.execute(_INSERT_NODE, same if len(same) > 1 else same[0])
        while self._deferred and not inserts_only:
            _, params = self._deferred.popitem()
            self.sql.execute(_SET_HIGH_WATER, params)
        self.sql.writes = writes

    def _before(self, statement: Executable) -> None:
        """Every statement of a cached batch. Deferred node rows are written before anything else runs (so every
        read sees them); deferred high-water marks before any statement the cache does not know (only those may
        read `pools`); a write the cache does not follow empties it."""
        if id(statement) in _DEFERRABLE or id(statement) in _NODELESS:
            return  # a flush writing them, or a read of no node row (an _AWARE one: nothing else to do)
        if self._inserts:
            self.flush(inserts_only=True)
        if id(statement) in _AWARE:
            return
        self.flush()
        writes = not isinstance(statement, Select | CompoundSelect)
        if self.cache is not None and writes and getattr(statement, "table", None) not in _UNRELATED:
            self.cache.clear()

    @property
    def writes(self) -> int:
        """Write statements that changed (or may have changed) something in this transaction so far."""
        return self.sql.writes

    def forget(self) -> None:
        """Drop what this transaction cached (after rolling back to a savepoint, or a use case that failed)."""
        self._pools = None
        if self.cache is not None:
            self.cache.clear()

    # pools
    def pools(self, *, lock: bool = False) -> list[PoolRecord]:
        """All pools by id; `lock` row-locks them on PostgreSQL (SQLite is already serialized by BEGIN IMMEDIATE)."""
        if self._pools is not None and (self._pools[0] or not lock):
            return list(self._pools[1])
        query = _POOLS_LOCKED if lock and self.pg else _POOLS
        found = [PoolRecord(*row) for row in self.sql.execute(query)]
        self._pools = (lock, found)
        return list(found)

    def add_pool(self, *, cidr: str, node_prefix: int, now: float) -> int:
        values = {"cidr": cidr, "node_prefix": node_prefix, "high_water": 0, "created_at": now}
        self._pools = None
        return int(self.sql.execute(_ADD_POOL, values).scalar_one())

    def delete_pool(self, pool_id: int) -> int:
        """Delete the pool; its released rows are detached (they can no longer reclaim). Returns how many were."""
        self._pools = None
        # Pool ids are unique across families: at most one of the two column sets points at the pool.
        detached = sum(int(self.sql.execute(f.detach_released, {"b_pool": pool_id}).rowcount) for f in _BOTH)
        self.sql.execute(_DELETE_POOL, {"pool_id": pool_id})
        return detached

    def set_high_water(self, pool_id: int, value: int) -> None:
        params = {"pool_id": pool_id, "value": value}
        if self.cache is not None:  # written once per batch (`flush`); counted now, so a failing job is undone
            self._deferred[pool_id] = params
            self.sql.writes += 1
        else:
            self.sql.execute(_SET_HIGH_WATER, params)
        if self._pools is not None:
            locked, cached = self._pools
            self._pools = (locked, [replace(p, high_water=value) if p.id == pool_id else p for p in cached])

    def allocated_per_pool(self) -> dict[int | None, int]:
        """Live subnets per pool, both families, from the counters the triggers keep (hubnet.server.db.counts)."""
        return {pool_id: int(count) for pool_id, count in self.sql.execute(_POOL_COUNTS)}

    def quarantined_per_pool(self, *, since: float) -> dict[int | None, int]:
        """Released subnets, not re-issued, released after `since` (still cooling down), per pool."""
        counts: dict[int | None, int] = {}
        for pool in self.pools():
            params = {"pool_id": pool.id, "since": since}
            counts[pool.id] = int(self.sql.execute(FAMILIES[pool.family].quarantined, params).scalar_one())
        return counts

    def count_drift(self) -> list[tuple[str, str]]:
        """Where the counters differ from a real COUNT (reads every row): (subject, detail) each; empty when they
        agree. Subject: the pool's CIDR, or `state <name>`."""
        real: dict[int | None, int] = {}
        for fam in _BOTH:
            for pool_id, count in self.sql.execute(fam.allocated):
                real[pool_id] = real.get(pool_id, 0) + int(count)
        kept = self.allocated_per_pool()
        drift = [
            (p.cidr, f"pool {p.cidr}: counter says {kept.get(p.id, 0)} allocated, a count finds {real.get(p.id, 0)}")
            for p in self.pools()
            if kept.get(p.id, 0) != real.get(p.id, 0)
        ]
        states = {state: int(n) for state, n in self.sql.execute(_COUNT_STATES)}
        kept_states = self.count_by_state()
        for state in sorted(set(states) | set(kept_states)):
            have, want = kept_states.get(state, 0), states.get(state, 0)
            if have != want:
                drift.append((f"state {state}", f"state {state}: counter says {have} nodes, a count finds {want}"))
        return drift

    def repair_counts(self) -> None:
        """Set every counter from a real COUNT."""
        for statement in _REPAIR:
            self.sql.execute(statement)

    # nodes
    def node(self, name: str, *, lock: bool = False) -> NodeRecord | None:
        locked = lock or not self.pg  # SQLite: the whole transaction holds the write lock
        if self.cache is not None:
            known, record = self.cache.node(name, lock=locked)
            if known:
                return record
        row = self.sql.execute(_NODE_LOCKED if lock and self.pg else _NODE, {"name": name}).first()
        record = _node(row) if row else None
        if self.cache is not None:
            self.cache.keep_node(name, record, locked=locked)
        return record

    def node_name_by_secret(self, secret_hash: str) -> str | None:
        return self.sql.execute(_BY_SECRET, {"digest": secret_hash}).scalar_one_or_none()

    def nodes_named(self, names: Collection[str]) -> list[NodeRecord]:
        """The rows (live or released) of these names that exist, in no particular order."""
        found: list[NodeRecord] = []
        for chunk in chunks(sorted(set(names))):
            found.extend(_node(row) for row in self.sql.execute(_NODES_NAMED, {"names": list(chunk)}))
        return found

    def subnet_in_use(self, subnet: str, *, scan: bool = False) -> bool:
        """A live node holds anything overlapping `subnet`, in the columns of its family (PostgreSQL: inet && on
        the gist index; SQLite: a range query on net_lo/net_hi or net6_lo/net6_hi, see hubnet.server.db.ranges).

        In a cached batch a `scan` (the never-used pass, which asks about consecutive subnets) reads the subnet's
        window of 64 once for the batch; any other question (a released subnet offered again, a reclaim: one
        subnet anywhere in the pool) is answered from a window read already, or else asked alone: a full pool's
        window read for one subnet cost PostgreSQL more than a whole never-used registration (BENCHMARKS.md)."""
        fam = FAMILIES[family_of(subnet)]
        if self.cache is not None and (found := self._window_in_use(subnet, read=scan)) is not None:
            return found
        if self.pg:
            return self.sql.execute(fam.in_use_pg, {"subnet": subnet}).first() is not None
        found_range = _range_of(subnet)
        if found_range is None:  # a flagged row's text: only the same text can clash with it
            return self.sql.execute(fam.in_use_eq, {"subnet": subnet}).first() is not None
        _, lo, hi, prefixlen = found_range
        starts = [fam.bound(s) for s in supernet_starts(lo, prefixlen, fam.bits)]
        params = {"lo": fam.bound(lo), "hi": fam.bound(hi), "starts": starts}
        return self.sql.execute(fam.in_use_range, params).first() is not None

    def _window_in_use(self, subnet: str, *, read: bool) -> bool | None:
        """`subnet_in_use` from the batch cache, reading the subnet's window once when `read`; None for text that
        does not parse, or a window not read (asked the usual way)."""
        assert self.cache is not None
        found_range = _range_of(subnet)
        if found_range is None:
            return None
        family, lo, hi, prefixlen = found_range
        window = self.cache.window_of(family, lo, prefixlen)
        found = self.cache.in_use(window, lo, hi)
        if found is None and read:
            self.cache.windows[window] = self._live_ranges(window)
            found = self.cache.in_use(window, lo, hi)
        return found

    def _live_ranges(self, window: tuple[int, int, int]) -> list[tuple[int, int]]:
        """Every live row's range (either family's columns) overlapping the window [first, last]."""
        family, first, last = window
        fam = FAMILIES[family]
        if self.pg:
            block = ip_network((first, fam.bits - (last - first + 1).bit_length() + 1))
            ranges = []
            for (text_,) in self.sql.execute(fam.subnets_in_pg, {"subnet": str(block)}):
                net = ip_network(text_, strict=False)
                ranges.append((int(net.network_address), int(net.broadcast_address)))
            return ranges
        length = fam.bits - (last - first + 1).bit_length() + 1
        starts = [fam.bound(s) for s in supernet_starts(first, length, fam.bits)]
        params = {"lo": fam.bound(first), "hi": fam.bound(last), "starts": starts}
        rows = self.sql.execute(fam.ranges_in, params)
        if family == 4:
            return [(int(a), int(b)) for a, b in rows]
        return [(int(a, 16), int(b, 16)) for a, b in rows]

    def backfill_ranges(self) -> int:
        """Rows without their range columns (written by hand or by an older controller) get them; how many."""
        return backfill_all(self.sql)

    def address_holder(self, address: str) -> str | None:
        """The live node registered with `address` (in the columns of its family)."""
        if self.cache is not None and address in self.cache.holders:
            return self.cache.holders[address]
        holder = self.sql.execute(FAMILIES[family_of(address)].holder, {"address": address}).scalar_one_or_none()
        if self.cache is not None:
            self.cache.holders[address] = holder
        return holder

    def oldest_released(self, pool: PoolRecord) -> NodeRecord | None:
        """The longest-released record holding a subnet of `pool` (in the pool's family columns), not re-issued."""
        row = self.sql.execute(FAMILIES[pool.family].oldest_released, {"pool_id": pool.id}).first()
        return _node(row) if row else None

    def withdrawing(self) -> list[NodeRecord]:
        return [_node(row) for row in self.sql.execute(_WITHDRAWING)]

    def set_withdrawn(self, node_id: int, generation: int) -> bool:
        params = {"node_id": node_id, "b_generation": generation}
        return int(self.sql.execute(_SET_WITHDRAWN, params).rowcount) > 0

    def mark_reissued(self, subnet: str) -> None:
        """Released rows that held `subnet` can no longer reclaim it."""
        self.sql.execute(FAMILIES[family_of(subnet)].mark_reissued, {"old_subnet": subnet})
        if self.cache is not None:  # the rest of the batch keeps its answers (the reuse path marks one per node)
            self.cache.reissued()

    def insert_node(self, **values: Any) -> None:
        # Vetted: the controller only inserts what the allocator handed out and validation accepted.
        row = {**_ranges(values, always=True), "vetted": True, **values}
        if self.cache is None:
            self.sql.execute(_INSERT_NODE, row)
            return
        # Written with the batch's other rows (`flush`); counted now, so a job failing after it is undone. A row the
        # database refuses fails the flush, and the batch is redone one savepoint per job, without deferring.
        self._inserts.append(row)
        self.sql.writes += 1
        self.cache.inserted(row)

    def update_node(self, node_id: int, **values: Any) -> None:
        self.sql.execute(_UPDATE_NODE, {"node_id": node_id, **_ranges(values, always=False), **values})
        if self.cache is not None:
            self.cache.updated(node_id, values)

    def delete_node(self, node_id: int) -> None:
        self.sql.execute(_DELETE_NODE, {"node_id": node_id})

    def list_nodes(self, *, state: str | None, after: str | None, limit: int) -> list[NodeRecord]:
        query = select(*_NODE_COLS).order_by(nodes.c.name).limit(limit)
        if state:
            query = query.where(nodes.c.state == state)
        if after:
            query = query.where(nodes.c.name > after)
        return [_node(row) for row in self.sql.execute(query)]

    def nodes_containing(self, ip: str, prefixes: Sequence[int]) -> list[NodeRecord]:
        """Live nodes whose subnet holds `ip`. PostgreSQL: inet >>= on the gist index; SQLite: the subnets of the
        given lengths around `ip`, looked up by their text."""
        address = ip_address(ip)
        fam = FAMILIES[address.version]
        if self.pg:
            row = self.sql.execute(fam.containing_pg, {"ip": ip}).first()
            return [_node(row)] if row else []
        lengths = {p for p in prefixes if p <= fam.bits}
        subnets = sorted({str(ip_network(f"{address}/{p}", strict=False)) for p in lengths})
        query = select(*_NODE_COLS).where(fam.subnet.in_(subnets), LIVE)
        return [_node(row) for row in self.sql.execute(query)]

    def live_nodes(self) -> list[NodeRecord]:
        return [_node(row) for row in self.sql.execute(select(*_NODE_COLS).where(LIVE))]

    def live_page(self, *, after: int, limit: int, lock: bool = False) -> list[NodeRecord]:
        params = {"after": after, "limit": limit}
        query = _LIVE_PAGE_LOCKED if lock and self.pg else _LIVE_PAGE
        return [_node(row) for row in self.sql.execute(query, params)]

    def count_by_state(self) -> dict[str, int]:
        """Rows per lease state, from the counters the triggers keep."""
        return {state: int(n) for state, n in self.sql.execute(_STATE_COUNTS) if n}

    def unvetted_nodes(self, *, lock: bool = False) -> list[NodeRecord]:
        """Live rows changed since the controller last checked them (hubnet.server.db.counts)."""
        query = _UNVETTED_LOCKED if lock and self.pg else _UNVETTED
        return [_node(row) for row in self.sql.execute(query)]

    def set_vetted(self, node_ids: Collection[int], *, vetted: bool) -> None:
        for chunk in chunks(sorted(node_ids)):
            self.sql.execute(_VET, {"ids": list(chunk), "b_vetted": vetted})

    def expire(
        self, *, state: str, new_state: str, before: float, now: float, marked_before: float | None = None
    ) -> list[NodeRecord]:
        """Move leases in `state` whose expiry is before `before` to `new_state`; returns the rows moved.

        `marked_before`: also require the row to have entered `state` before then (its `updated_at`: a row in
        `stale` was last written when it was marked stale; a heartbeat or re-join moves it out of `stale`)."""
        values: dict[str, Any] = {"state": new_state, "updated_at": now}
        if new_state == "released":
            values.update(released_values(now, route=RouteState.WITHDRAWN), route_state=_WITHDRAWAL)
        cond = and_(nodes.c.state == state, nodes.c.expires_at < before)
        if marked_before is not None:
            cond = and_(cond, nodes.c.updated_at < marked_before)
        result = self.sql.execute(update(nodes).where(cond).values(**values).returning(*_NODE_COLS))
        return [_node(row) for row in result]

    def extend_expired(self, *, until: float) -> int:
        """Push every live lease that expires before `until` to `until` (no state change, no event); returns how
        many. Only for a database whose lease clock was never stamped (see `alive_at`)."""
        return int(self.sql.execute(_EXTEND_EXPIRED, {"until": until}).rowcount)

    def shift_live_leases(self, *, by: float) -> int:
        """Add `by` seconds to the expiry of every live lease, active and stale (released rows, `state` and
        `updated_at` untouched); returns how many."""
        return int(self.sql.execute(_SHIFT_LIVE, {"by": by}).rowcount)

    # the lease clock
    def alive_at(self, *, lock: bool = False) -> float | None:
        """When a controller was last known alive (None: never stamped); `lock` row-locks it on PostgreSQL (SQLite
        is already serialized by BEGIN IMMEDIATE)."""
        value = self.sql.execute(_ALIVE_AT_LOCKED if lock and self.pg else _ALIVE_AT).scalar_one_or_none()
        return None if value is None else float(value)

    def stamp_alive(self, *, now: float) -> None:
        """Move `alive_at` forward to `now` (never back); (re)creates the row if it is missing."""
        self.sql.execute(_STAMP_ALIVE_PG if self.pg else _STAMP_ALIVE_SQLITE, {"now": now})

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
        """Store a route state on that live record only (name, generation, address; and (subnet6, address6) when
        `v6` is given): a report about an older incarnation of the node, or about its routes before a re-join moved
        them, changes nothing. True when the row changed."""
        subnet6, address6 = v6 if v6 is not None else (None, None)
        values = {
            "b_name": name,
            "b_generation": generation,
            "b_address": address,
            "b_state": state,
            "b_error": error,
            "b_checks6": v6 is not None,
            "b_subnet6": subnet6,
            "b_address6": address6,
        }
        changed = int(self.sql.execute(_SET_ROUTE_STATE, values).rowcount) > 0
        if self.cache is not None:  # only that row's route state changed: its cached record goes
            self.cache.forget_node(name)
        return changed

    def set_route_states(self, items: Sequence[RouteStateWrite]) -> list[bool]:
        """`set_route_state` for each item: one statement per STATES_CHUNK states instead of one per state (a route
        reconcile reports every node it programmed). An item repeating the (name, generation) of an earlier one is
        stored after them by itself, in order."""
        changed = [False] * len(items)
        seen: set[tuple[str, int]] = set()
        together: list[int] = []
        alone: list[int] = []
        for index, item in enumerate(items):
            key = (item.name, item.generation)
            (alone if key in seen else together).append(index)
            seen.add(key)
        statement = _SET_ROUTE_STATES_PG if self.pg else _SET_ROUTE_STATES_SQLITE
        for start in range(0, len(together), STATES_CHUNK):
            chunk = together[start : start + STATES_CHUNK]
            rows = []
            for index in chunk:
                item = items[index]
                subnet6, address6 = item.v6 if item.v6 is not None else (None, None)
                rows.append(
                    {
                        "name": item.name,
                        "generation": item.generation,
                        "address": item.address,
                        "state": item.state,
                        "error": item.error,
                        "checks6": item.v6 is not None,
                        "subnet6": subnet6,
                        "address6": address6,
                    }
                )
            done = {(name, int(gen)) for name, gen in self.sql.execute(statement, {"states": json.dumps(rows)})}
            self.sql.writes += 1  # a textual statement is not counted as a write by itself
            for index in chunk:
                changed[index] = (items[index].name, items[index].generation) in done
            if self.cache is not None:  # only those rows' route states changed: their cached records go
                for index in chunk:
                    self.cache.forget_node(items[index].name)
        for index in alone:
            item = items[index]
            changed[index] = self.set_route_state(
                item.name, item.generation, item.address, item.state, item.error, v6=item.v6
            )
        return changed

    # events
    def append_events(self, items: Sequence[tuple[str, str | None, str]], *, now: float) -> int:
        """Reserve len(items) revisions (row-locking the counter until commit) and append; returns the last."""
        last = int(self.sql.execute(_BUMP, {"n": len(items)}).scalar_one())
        first = last - len(items) + 1
        rows = [
            {"revision": first + i, "created_at": now, "type": kind, "node": node, "data": data}
            for i, (kind, node, data) in enumerate(items)
        ]
        self.sql.execute(_INSERT_EVENT, rows)
        return last

    def events_since(self, revision: int, limit: int, *, upto: int | None = None) -> list[EventRecord]:
        """Events after `revision`, at most up to `upto` (a counter value read first: see services.events)."""
        params = {"after": revision, "upto": upto if upto is not None else 2**62, "limit": limit}
        return [EventRecord(*row) for row in self.sql.execute(_EVENTS, params)]

    def notify_commit(self, revision: int, origin: str = "") -> None:
        """PostgreSQL: tell every controller process's listener (hubnet.server.db.listen) that events up to
        `revision` are there, committed by `origin`. Part of this transaction: delivered when it commits, never when
        it rolls back."""
        if self.pg:
            self.sql.execute(_NOTIFY, {"channel": CHANNEL, "payload": payload(revision, origin)})

    def event_nodes(self, *, after: int, upto: int, kinds: Collection[str], limit: int) -> list[str | None]:
        """The `node` of each event of these kinds with a revision in (after, upto], oldest first, at most `limit`."""
        params = {"after": after, "upto": upto, "kinds": sorted(kinds), "limit": limit}
        return list(self.sql.execute(_EVENT_NODES, params).scalars())

    def first_revision(self) -> int | None:
        """The oldest event kept (None: no event is)."""
        value = self.sql.execute(_FIRST_REVISION).scalar_one_or_none()
        return None if value is None else int(value)

    def revision(self) -> int:
        return int(self.sql.execute(_REVISION).scalar_one_or_none() or 0)

    def moves_since(self, after: int, *, kinds: Collection[str], limit: int) -> Moves:
        rows = self.sql.execute(_MOVES, {"after": after, "kinds": sorted(kinds), "limit": limit}).all()
        head = rows[0]  # the head row is always there (a left join keeps it when nothing moved)
        moved: list[str | None] = []
        found: dict[str, NodeRecord] = {}
        for row in rows:
            if row[2] is None:  # no moving event: the head alone
                continue
            moved.append(row[3])
            if row[4] is not None:  # the node's row (its id: the first of the node columns)
                record = _node(row[4:])
                found[record.name] = record
        return Moves(int(head[0] or 0), None if head[1] is None else int(head[1]), moved, list(found.values()))
