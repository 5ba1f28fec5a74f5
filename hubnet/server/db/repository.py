"""Queries, one method per question, over one connection inside the unit of work. Never commits.

Every hot-path query is a point lookup or an ordered LIMIT 1 on an index, so a registration costs the same at
60,000 nodes as at 0. Statements are built once (module level, bound parameters): building a Core statement per
call costs about four times as much as executing a cached one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, literal_column, or_, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hubnet.server.db.models import Inet, controller_clock, events, nodes, pools, revision_counter
from hubnet.server.db.ranges import backfill_ranges, net_range, supernet_starts
from hubnet.server.db.statements import Statements
from hubnet.server.db.tokens import TokenQueries
from hubnet.server.domain.lease import released_values
from hubnet.server.domain.records import EventRecord, NodeRecord, PoolRecord

_NODE_COLS = [getattr(nodes.c, f) for f in NodeRecord.__dataclass_fields__]
# A literal, not a bound parameter: the planner only uses the partial indexes and the exclusion constraint's gist
# index (all `WHERE state <> 'released'`) when it can prove the predicate from the query text.
LIVE = nodes.c.state != literal_column("'released'")

_POOLS = select(pools.c.id, pools.c.cidr, pools.c.node_prefix, pools.c.high_water).order_by(pools.c.id)
_POOLS_LOCKED = _POOLS.with_for_update()
_ADD_POOL = insert(pools).returning(pools.c.id)
_SET_HIGH_WATER = update(pools).where(pools.c.id == bindparam("pool_id")).values(high_water=bindparam("value"))
_DELETE_POOL = pools.delete().where(pools.c.id == bindparam("pool_id"))
# Released rows of a deleted pool keep their history but can never reclaim a subnet of it.
_DETACH_RELEASED = (
    update(nodes)
    .where(nodes.c.pool_id == bindparam("b_pool"), nodes.c.state == "released")
    .values(pool_id=None, reissued=True)
)
_ALLOCATED = select(nodes.c.pool_id, func.count()).where(LIVE).group_by(nodes.c.pool_id)

_NODE = select(*_NODE_COLS).where(nodes.c.name == bindparam("name"))
_NODE_LOCKED = _NODE.with_for_update()
_BY_SECRET = select(nodes.c.name).where(nodes.c.secret_hash == bindparam("digest")).limit(1)
_IN_USE_EQ = select(nodes.c.id).where(nodes.c.subnet == bindparam("subnet", type_=Inet()), LIVE).limit(1)
# SQLite: a live row overlaps [lo, hi] when it starts inside it, or starts where a network containing it starts
# (rows are CIDR-aligned) and reaches lo. Two index searches (a UNION ALL: with an OR SQLite scans the index).
_IN_USE_RANGE = union_all(
    select(nodes.c.id).where(LIVE, nodes.c.net_lo.between(bindparam("lo"), bindparam("hi"))),
    select(nodes.c.id).where(
        LIVE, nodes.c.net_lo.in_(bindparam("starts", expanding=True)), nodes.c.net_hi >= bindparam("lo")
    ),
).limit(1)
_IN_USE_PG = select(nodes.c.id).where(nodes.c.subnet.op("&&")(bindparam("subnet", type_=Inet())), LIVE).limit(1)
_ADDRESS = select(nodes.c.name).where(nodes.c.address == bindparam("address", type_=Inet()), LIVE).limit(1)
_OLDEST_RELEASED = (
    select(*_NODE_COLS)
    .where(nodes.c.pool_id == bindparam("pool_id"), nodes.c.state == "released", nodes.c.reissued.is_(False))
    .order_by(nodes.c.released_at, nodes.c.id)
    .limit(1)
)
_MARK_REISSUED = (
    update(nodes)
    .where(nodes.c.subnet == bindparam("old_subnet", type_=Inet()), nodes.c.state == "released")
    .values(reissued=True)
)
_INSERT_NODE = insert(nodes)
_UPDATE_NODE = update(nodes).where(nodes.c.id == bindparam("node_id"))
_DELETE_NODE = nodes.delete().where(nodes.c.id == bindparam("node_id"))
_CONTAINING_PG = select(*_NODE_COLS).where(nodes.c.subnet.op(">>=")(bindparam("ip", type_=Inet())), LIVE).limit(1)
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
        nodes.c.address == bindparam("b_address", type_=Inet()),
        LIVE,
        ~and_(
            nodes.c.route_state == bindparam("b_state"),
            nodes.c.route_error.is_not_distinct_from(bindparam("b_error", type_=nodes.c.route_error.type)),
        ),
    )
    .values(route_state=bindparam("b_state"), route_error=bindparam("b_error"))
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


def _node(row: Any) -> NodeRecord:
    return NodeRecord(*row)


class Repository:
    """`hubnet.server.services.ports.Repository` over one connection. Every statement runs through `Statements`, which
    counts the writes (the batch runner needs to know whether a failed use case wrote anything)."""

    def __init__(self, conn: Connection, dialect: str) -> None:
        self.sql = Statements(conn)
        self.pg = dialect == "postgresql"
        self.tokens = TokenQueries(self.sql)
        self._pools: tuple[bool, list[PoolRecord]] | None = None  # (locked, pools) for this transaction

    @property
    def writes(self) -> int:
        """Write statements that changed (or may have changed) something in this transaction so far."""
        return self.sql.writes

    def forget(self) -> None:
        """Drop what this transaction cached (after rolling back to a savepoint)."""
        self._pools = None

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
        detached = int(self.sql.execute(_DETACH_RELEASED, {"b_pool": pool_id}).rowcount)
        self.sql.execute(_DELETE_POOL, {"pool_id": pool_id})
        return detached

    def set_high_water(self, pool_id: int, value: int) -> None:
        self.sql.execute(_SET_HIGH_WATER, {"pool_id": pool_id, "value": value})
        if self._pools is not None:
            locked, cached = self._pools
            self._pools = (locked, [replace(p, high_water=value) if p.id == pool_id else p for p in cached])

    def allocated_per_pool(self) -> dict[int | None, int]:
        return {pool_id: int(count) for pool_id, count in self.sql.execute(_ALLOCATED)}

    def quarantined_per_pool(self, *, since: float) -> dict[int | None, int]:
        """Released subnets, not re-issued, released after `since` (still cooling down), per pool."""
        query = (
            select(nodes.c.pool_id, func.count())
            .where(nodes.c.state == "released", nodes.c.reissued.is_(False), nodes.c.released_at > since)
            .group_by(nodes.c.pool_id)
        )
        return {pool_id: int(count) for pool_id, count in self.sql.execute(query)}

    # nodes
    def node(self, name: str, *, lock: bool = False) -> NodeRecord | None:
        row = self.sql.execute(_NODE_LOCKED if lock and self.pg else _NODE, {"name": name}).first()
        return _node(row) if row else None

    def node_name_by_secret(self, secret_hash: str) -> str | None:
        return self.sql.execute(_BY_SECRET, {"digest": secret_hash}).scalar_one_or_none()

    def subnet_in_use(self, subnet: str) -> bool:
        """A live node holds anything overlapping `subnet` (PostgreSQL: inet && on the gist index; SQLite: an
        integer range query, see hubnet.server.db.ranges)."""
        if self.pg:
            return self.sql.execute(_IN_USE_PG, {"subnet": subnet}).first() is not None
        try:
            network = IPv4Network(subnet, strict=False)
        except ValueError:  # a flagged row's text: only the same text can clash with it
            return self.sql.execute(_IN_USE_EQ, {"subnet": subnet}).first() is not None
        lo, hi = int(network.network_address), int(network.broadcast_address)
        params = {"lo": lo, "hi": hi, "starts": supernet_starts(lo, network.prefixlen)}
        return self.sql.execute(_IN_USE_RANGE, params).first() is not None

    def backfill_ranges(self) -> int:
        """Rows without net_lo/net_hi (written by hand or by an older controller) get them; returns how many."""
        return backfill_ranges(self.sql)

    def address_holder(self, address: str) -> str | None:
        return self.sql.execute(_ADDRESS, {"address": address}).scalar_one_or_none()

    def oldest_released(self, pool_id: int) -> NodeRecord | None:
        row = self.sql.execute(_OLDEST_RELEASED, {"pool_id": pool_id}).first()
        return _node(row) if row else None

    def mark_reissued(self, subnet: str) -> None:
        """Released rows that held `subnet` can no longer reclaim it."""
        self.sql.execute(_MARK_REISSUED, {"old_subnet": subnet})

    def insert_node(self, **values: Any) -> None:
        net_lo, net_hi = net_range(values["subnet"])
        self.sql.execute(_INSERT_NODE, {"net_lo": net_lo, "net_hi": net_hi, **values})

    def update_node(self, node_id: int, **values: Any) -> None:
        self.sql.execute(_UPDATE_NODE, {"node_id": node_id, **values})

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
        if self.pg:
            row = self.sql.execute(_CONTAINING_PG, {"ip": ip}).first()
            return [_node(row)] if row else []
        address = IPv4Address(ip)
        subnets = sorted({str(IPv4Network(f"{address}/{p}", strict=False)) for p in prefixes})
        query = select(*_NODE_COLS).where(nodes.c.subnet.in_(subnets), LIVE)
        return [_node(row) for row in self.sql.execute(query)]

    def live_nodes(self) -> list[NodeRecord]:
        return [_node(row) for row in self.sql.execute(select(*_NODE_COLS).where(LIVE))]

    def count_by_state(self) -> dict[str, int]:
        query = select(nodes.c.state, func.count()).group_by(nodes.c.state)
        return {state: int(count) for state, count in self.sql.execute(query)}

    def expire(
        self, *, state: str, new_state: str, before: float, now: float, marked_before: float | None = None
    ) -> list[NodeRecord]:
        """Move leases in `state` whose expiry is before `before` to `new_state`; returns the rows moved.

        `marked_before`: also require the row to have entered `state` before then (its `updated_at`: a row in
        `stale` was last written when it was marked stale; a heartbeat or re-join moves it out of `stale`)."""
        values: dict[str, Any] = {"state": new_state, "updated_at": now}
        if new_state == "released":
            values.update(released_values(now))
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

    def set_route_state(self, name: str, generation: int, address: str, state: str, error: str | None) -> bool:
        """Store a route state on that live record only (name, generation, address): a report about an older
        incarnation of the node changes nothing. True when the row changed."""
        values = {"b_name": name, "b_generation": generation, "b_address": address, "b_state": state, "b_error": error}
        return int(self.sql.execute(_SET_ROUTE_STATE, values).rowcount) > 0

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

    def revision(self) -> int:
        return int(self.sql.execute(_REVISION).scalar_one_or_none() or 0)
