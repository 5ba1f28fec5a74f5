"""Queries, one method per question, over one connection inside the unit of work. Never commits.

Every hot-path query is a point lookup or an ordered LIMIT 1 on an index, so a registration costs the same at
60,000 nodes as at 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, update

from server.db.models import events, nodes, pools, revision_counter
from server.domain.records import EventRecord, NodeRecord, PoolRecord

_NODE_COLS = [getattr(nodes.c, f) for f in NodeRecord.__dataclass_fields__]
LIVE = nodes.c.state != "released"


def _node(row: Any) -> NodeRecord:
    return NodeRecord(*row)


class Repository:
    def __init__(self, conn: Connection, dialect: str) -> None:
        self.conn = conn
        self.pg = dialect == "postgresql"

    # pools
    def pools(self, *, lock: bool = False) -> list[PoolRecord]:
        query = select(pools.c.id, pools.c.cidr, pools.c.node_prefix, pools.c.high_water).order_by(pools.c.id)
        if lock and self.pg:
            query = query.with_for_update()
        return [PoolRecord(*row) for row in self.conn.execute(query)]

    def add_pool(self, *, cidr: str, node_prefix: int, now: float) -> int:
        values = {"cidr": cidr, "node_prefix": node_prefix, "high_water": 0, "created_at": now}
        result = self.conn.execute(insert(pools).values(**values).returning(pools.c.id))
        return int(result.scalar_one())

    def set_high_water(self, pool_id: int, value: int) -> None:
        self.conn.execute(update(pools).where(pools.c.id == pool_id).values(high_water=value))

    def allocated_per_pool(self) -> dict[int | None, int]:
        query = select(nodes.c.pool_id, func.count()).where(LIVE).group_by(nodes.c.pool_id)
        return {pool_id: int(count) for pool_id, count in self.conn.execute(query)}

    # nodes
    def node(self, name: str, *, lock: bool = False) -> NodeRecord | None:
        query = select(*_NODE_COLS).where(nodes.c.name == name)
        if lock and self.pg:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return _node(row) if row else None

    def node_name_by_secret(self, secret_hash: str) -> str | None:
        query = select(nodes.c.name).where(nodes.c.secret_hash == secret_hash).limit(1)
        return self.conn.execute(query).scalar_one_or_none()

    def subnet_in_use(self, subnet: str) -> bool:
        """A live node holds `subnet` (on PostgreSQL: anything overlapping it, through the gist index)."""
        cond = nodes.c.subnet.op("&&")(subnet) if self.pg else nodes.c.subnet == subnet
        query = select(nodes.c.id).where(cond, LIVE).limit(1)
        return self.conn.execute(query).first() is not None

    def address_holder(self, address: str) -> str | None:
        query = select(nodes.c.name).where(nodes.c.address == address, LIVE).limit(1)
        return self.conn.execute(query).scalar_one_or_none()

    def oldest_released(self, pool_id: int) -> NodeRecord | None:
        query = (
            select(*_NODE_COLS)
            .where(nodes.c.pool_id == pool_id, nodes.c.state == "released", nodes.c.reissued.is_(False))
            .order_by(nodes.c.released_at, nodes.c.id)
            .limit(1)
        )
        row = self.conn.execute(query).first()
        return _node(row) if row else None

    def mark_reissued(self, subnet: str) -> None:
        """Released rows that held `subnet` can no longer reclaim it."""
        cond = and_(nodes.c.subnet == subnet, nodes.c.state == "released")
        self.conn.execute(update(nodes).where(cond).values(reissued=True))

    def insert_node(self, **values: Any) -> None:
        self.conn.execute(insert(nodes).values(**values))

    def update_node(self, node_id: int, **values: Any) -> None:
        self.conn.execute(update(nodes).where(nodes.c.id == node_id).values(**values))

    def delete_node(self, node_id: int) -> None:
        self.conn.execute(nodes.delete().where(nodes.c.id == node_id))

    def list_nodes(self, *, state: str | None, after: str | None, limit: int) -> list[NodeRecord]:
        query = select(*_NODE_COLS).order_by(nodes.c.name).limit(limit)
        if state:
            query = query.where(nodes.c.state == state)
        if after:
            query = query.where(nodes.c.name > after)
        return [_node(row) for row in self.conn.execute(query)]

    def nodes_with_subnet(self, subnets: Sequence[str]) -> list[NodeRecord]:
        query = select(*_NODE_COLS).where(nodes.c.subnet.in_(subnets), LIVE)
        return [_node(row) for row in self.conn.execute(query)]

    def node_containing(self, ip: str) -> NodeRecord | None:
        """PostgreSQL only: the live node whose subnet contains `ip` (inet >>=)."""
        query = select(*_NODE_COLS).where(nodes.c.subnet.op(">>=")(ip), LIVE).limit(1)
        row = self.conn.execute(query).first()
        return _node(row) if row else None

    def live_nodes(self) -> list[NodeRecord]:
        return [_node(row) for row in self.conn.execute(select(*_NODE_COLS).where(LIVE))]

    def all_nodes(self) -> list[NodeRecord]:
        return [_node(row) for row in self.conn.execute(select(*_NODE_COLS))]

    def count_by_state(self) -> dict[str, int]:
        query = select(nodes.c.state, func.count()).group_by(nodes.c.state)
        return {state: int(count) for state, count in self.conn.execute(query)}

    def expire(self, *, state: str, new_state: str, before: float, now: float) -> list[NodeRecord]:
        """Move leases in `state` whose expiry is before `before` to `new_state`; returns the rows moved."""
        values: dict[str, Any] = {"state": new_state, "updated_at": now}
        if new_state == "released":
            values["released_at"] = now
        cond = and_(nodes.c.state == state, nodes.c.expires_at < before)
        result = self.conn.execute(update(nodes).where(cond).values(**values).returning(*_NODE_COLS))
        return [_node(row) for row in result]

    def set_route_state(self, name: str, state: str, error: str | None) -> bool:
        """Store a node's route state; True when it changed (so one event is written per change)."""
        cond = and_(
            nodes.c.name == name,
            LIVE,
            (nodes.c.route_state != state) | (func.coalesce(nodes.c.route_error, "") != (error or "")),
        )
        result = self.conn.execute(update(nodes).where(cond).values(route_state=state, route_error=error))
        return bool(result.rowcount)

    # events
    def append_events(self, items: Sequence[tuple[str, str | None, str]], *, now: float) -> int:
        """Reserve len(items) revisions (row-locking the counter until commit) and append; returns the last."""
        bump = update(revision_counter).where(revision_counter.c.id == 1)
        result = self.conn.execute(
            bump.values(value=revision_counter.c.value + len(items)).returning(revision_counter.c.value)
        )
        last = int(result.scalar_one())
        first = last - len(items) + 1
        rows = [
            {"revision": first + i, "created_at": now, "type": kind, "node": node, "data": data}
            for i, (kind, node, data) in enumerate(items)
        ]
        self.conn.execute(insert(events), rows)
        return last

    def events_since(self, revision: int, limit: int) -> list[EventRecord]:
        query = (
            select(events.c.revision, events.c.created_at, events.c.type, events.c.node, events.c.data)
            .where(events.c.revision > revision)
            .order_by(events.c.revision)
            .limit(limit)
        )
        return [EventRecord(*row) for row in self.conn.execute(query)]

    def revision(self) -> int:
        query = select(revision_counter.c.value).where(revision_counter.c.id == 1)
        return int(self.conn.execute(query).scalar_one_or_none() or 0)

    def ping(self) -> None:
        self.conn.execute(select(1)).scalar_one()
