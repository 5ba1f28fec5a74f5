"""Queries on `routers` and `router_routes`: the repository's `routers` (kept apart from the node queries).

Statements are built once. Lists of node ids go to the database in chunks, well below SQLite's limit of bound
parameters per statement.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, insert, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hubnet.server.db.batchcache import BatchCache
from hubnet.server.db.models import nodes, router_routes, routers
from hubnet.server.db.statements import Statements
from hubnet.server.domain.records import RouterRecord, RouterRouteState

CHUNK = 5000
_COLS = [getattr(routers.c, f) for f in RouterRecord.__dataclass_fields__]
_ALL = select(*_COLS).order_by(routers.c.name)
_BY_NAME = select(*_COLS).where(routers.c.name == bindparam("name"))
_BY_SECRET = select(*_COLS).where(routers.c.secret_hash == bindparam("digest")).limit(1)
_ADD = insert(routers).returning(routers.c.id)
_UPDATE = update(routers).where(routers.c.id == bindparam("router_id"))
_DELETE = routers.delete().where(routers.c.id == bindparam("router_id"))
# One conditional UPDATE: with several controller processes running the reaper, a router goes down exactly once.
_MARK_DOWN = (
    update(routers)
    .where(
        routers.c.status.in_(("up", "syncing")),
        func.coalesce(routers.c.last_report_at, routers.c.created_at) < bindparam("before"),
    )
    .values(status="down")
    .returning(routers.c.name)
)
_STATES = select(
    router_routes.c.node_id, routers.c.name, router_routes.c.generation, router_routes.c.state, router_routes.c.error
).join_from(router_routes, routers, router_routes.c.router_id == routers.c.id)
_STATES_OF = _STATES.where(router_routes.c.node_id.in_(bindparam("ids", expanding=True)))
READS = (_ALL, _STATES_OF)  # reads a write batch may run between its deferred writes (hubnet.server.db.batchcache)
NODELESS = (_ALL,)  # reads no node row: a batch's deferred node rows need not be written before it
_FORGET_NODE = router_routes.delete().where(router_routes.c.node_id == bindparam("node_id"))
_LIVE = nodes.c.state != literal_column("'released'")
# A ready (programmed) live node of which this router holds no programmed route of the node's current generation.
_LACKS_READY = (
    select(nodes.c.id)
    .where(
        _LIVE,
        nodes.c.route_state == "programmed",
        ~exists().where(
            router_routes.c.node_id == nodes.c.id,
            router_routes.c.router_id == bindparam("router_id"),
            router_routes.c.generation == nodes.c.generation,
            router_routes.c.state == "programmed",
        ),
    )
    .limit(1)
)
_SET_AGGREGATE = (
    update(nodes)
    .where(and_(nodes.c.id == bindparam("b_id"), nodes.c.generation == bindparam("b_generation"), _LIVE))
    .values(route_state=bindparam("b_state"), route_error=bindparam("b_error"))
)


def _upsert(dialect_insert: Any) -> Any:
    statement = dialect_insert(router_routes)
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[router_routes.c.router_id, router_routes.c.node_id],
        set_={
            "generation": excluded.generation,
            "state": excluded.state,
            "error": excluded.error,
            "updated_at": excluded.updated_at,
        },
    )


_SAVE_PG = _upsert(pg_insert)
_SAVE_SQLITE = _upsert(sqlite_insert)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class RouterQueries:
    """`hubnet.server.services.ports.RouterRepository` over the unit of work's statements (writes counted there)."""

    def __init__(self, sql: Statements, *, pg: bool) -> None:
        self.sql = sql
        self._save = _SAVE_PG if pg else _SAVE_SQLITE
        self.cache: BatchCache | None = None  # a write batch's (hubnet.server.db.batchcache)

    def all(self) -> list[RouterRecord]:
        if self.cache is not None and self.cache.routers is not None:
            return list(self.cache.routers)
        found = [RouterRecord(*row) for row in self.sql.execute(_ALL)]
        if self.cache is not None:
            self.cache.routers = list(found)
        return found

    def by_name(self, name: str) -> RouterRecord | None:
        row = self.sql.execute(_BY_NAME, {"name": name}).first()
        return RouterRecord(*row) if row else None

    def by_secret(self, digest: str) -> RouterRecord | None:
        row = self.sql.execute(_BY_SECRET, {"digest": digest}).first()
        return RouterRecord(*row) if row else None

    def add(self, *, name: str, secret_hash: str, now: float) -> int:
        values = {"name": name, "secret_hash": secret_hash, "created_at": now, "status": "syncing"}
        return int(self.sql.execute(_ADD, values).scalar_one())

    def update(self, router_id: int, **values: Any) -> None:
        self.sql.execute(_UPDATE, {"router_id": router_id, **values})

    def delete(self, router_id: int) -> None:
        self.sql.execute(_DELETE, {"router_id": router_id})

    def mark_down(self, *, before: float) -> list[str]:
        return sorted(self.sql.execute(_MARK_DOWN, {"before": before}).scalars())

    def save_states(self, router_id: int, rows: Sequence[tuple[int, int, str, str | None]], *, now: float) -> None:
        params = [
            {"router_id": router_id, "node_id": n, "generation": g, "state": s, "error": e, "updated_at": now}
            for n, g, s, e in rows
        ]
        for chunk in chunks(params):
            self.sql.execute(self._save, list(chunk))

    def states(self, node_ids: Collection[int] | None = None) -> list[RouterRouteState]:
        if node_ids is None:
            return [RouterRouteState(*row) for row in self.sql.execute(_STATES)]
        found: list[RouterRouteState] = []
        for chunk in chunks(sorted(set(node_ids))):
            found.extend(RouterRouteState(*row) for row in self.sql.execute(_STATES_OF, {"ids": list(chunk)}))
        return found

    def forget_node(self, node_id: int) -> None:
        self.sql.execute(_FORGET_NODE, {"node_id": node_id})

    def holds_ready_routes(self, router_id: int) -> bool:
        return self.sql.execute(_LACKS_READY, {"router_id": router_id}).first() is None

    def set_aggregates(self, rows: Sequence[tuple[int, int, str, str | None]]) -> None:
        params = [{"b_id": n, "b_generation": g, "b_state": s, "b_error": e} for n, g, s, e in rows]
        for chunk in chunks(params):
            self.sql.execute(_SET_AGGREGATE, list(chunk))
