"""Queries on `bgp_peers`: the repository's `bgp_peers` (kept apart from the node queries)."""

from __future__ import annotations

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hubnet.server.bgp.peers import PeerRecord
from hubnet.server.db.models import bgp_peers as t
from hubnet.server.db.statements import Statements

_COLS = [getattr(t.c, f) for f in PeerRecord.__dataclass_fields__]
_ALL = select(*_COLS).order_by(t.c.id)
_BY_ADDRESS = select(*_COLS).where(t.c.address == bindparam("address"))
_DELETE = delete(t).where(t.c.address == bindparam("address"))
# The unique index decides, in one statement: of two transactions adding the same address (two controller
# processes, either database) one inserts and the other gets no row back, without an error aborting its transaction.
_ADD_PG = pg_insert(t).on_conflict_do_nothing(index_elements=[t.c.address]).returning(t.c.id)
_ADD_SQLITE = sqlite_insert(t).on_conflict_do_nothing(index_elements=[t.c.address]).returning(t.c.id)


class PeerQueries:
    """`hubnet.server.services.ports.PeerRepository` over the unit of work's statements (writes counted there)."""

    def __init__(self, sql: Statements, *, pg: bool) -> None:
        self.sql = sql
        self._add = _ADD_PG if pg else _ADD_SQLITE

    def all(self) -> list[PeerRecord]:
        return [PeerRecord(*row) for row in self.sql.execute(_ALL)]

    def by_address(self, address: str) -> PeerRecord | None:
        row = self.sql.execute(_BY_ADDRESS, {"address": address}).first()
        return PeerRecord(*row) if row else None

    def add(self, peer: PeerRecord) -> bool:
        """Store the peer; False (nothing written) when one with its address exists."""
        values = {f: getattr(peer, f) for f in PeerRecord.__dataclass_fields__}
        return self.sql.execute(self._add, values).first() is not None

    def delete(self, address: str) -> bool:
        """True when a peer with this address was deleted."""
        return bool(self.sql.execute(_DELETE, {"address": address}).rowcount)
