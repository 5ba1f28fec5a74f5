"""Queries on `bootstrap_tokens`: the repository's `tokens` (kept apart from the node queries)."""

from __future__ import annotations

from sqlalchemy import bindparam, insert, or_, select, update

from hubnet.server.db.models import bootstrap_tokens as t
from hubnet.server.db.statements import Statements
from hubnet.server.domain.tokens import TokenRecord

_COLS = [getattr(t.c, f) for f in TokenRecord.__dataclass_fields__]
_BY_HASH = select(*_COLS).where(t.c.token_hash == bindparam("digest"))
_BY_ID = select(*_COLS).where(t.c.id == bindparam("token_id"))
_ALL = select(*_COLS).order_by(t.c.id)
_INSERT = insert(t).returning(t.c.id)
_REVOKE = update(t).where(t.c.id == bindparam("token_id"), t.c.revoked_at.is_(None)).values(revoked_at=bindparam("now"))
# One atomic statement decides whether a use is left: under concurrency (threads, processes, either database) the
# row's own lock serializes the increments, so `uses` can never pass `max_uses`.
_CONSUME = (
    update(t)
    .where(
        t.c.id == bindparam("token_id"),
        t.c.revoked_at.is_(None),
        or_(t.c.expires_at.is_(None), t.c.expires_at > bindparam("now")),
        or_(t.c.max_uses.is_(None), t.c.uses < t.c.max_uses),
    )
    .values(uses=t.c.uses + 1)
)


class TokenQueries:
    """`hubnet.server.services.ports.TokenRepository` over the unit of work's statements (writes counted there)."""

    def __init__(self, sql: Statements) -> None:
        self.sql = sql

    def by_hash(self, digest: str) -> TokenRecord | None:
        row = self.sql.execute(_BY_HASH, {"digest": digest}).first()
        return TokenRecord(*row) if row else None

    def by_id(self, token_id: int) -> TokenRecord | None:
        row = self.sql.execute(_BY_ID, {"token_id": token_id}).first()
        return TokenRecord(*row) if row else None

    def all(self) -> list[TokenRecord]:
        return [TokenRecord(*row) for row in self.sql.execute(_ALL)]

    def add(self, *, digest: str, description: str, now: float, expires_at: float | None, max_uses: int | None) -> int:
        values = {
            "token_hash": digest,
            "description": description,
            "created_at": now,
            "expires_at": expires_at,
            "max_uses": max_uses,
            "uses": 0,
        }
        return int(self.sql.execute(_INSERT, values).scalar_one())

    def revoke(self, token_id: int, now: float) -> bool:
        """True when this call revoked it (False: already revoked)."""
        return bool(self.sql.execute(_REVOKE, {"token_id": token_id, "now": now}).rowcount)

    def consume(self, token_id: int, now: float) -> bool:
        """Count one use if one is left (and the token is neither revoked nor expired); False when none is."""
        return bool(self.sql.execute(_CONSUME, {"token_id": token_id, "now": now}).rowcount)
