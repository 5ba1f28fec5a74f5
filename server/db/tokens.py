"""Queries on `bootstrap_tokens` over the unit of work's connection (kept apart from the node repository)."""

from __future__ import annotations

from sqlalchemy import bindparam, insert, or_, select, update

from server.db.models import bootstrap_tokens as t
from server.db.repository import Repository
from server.domain.tokens import TokenRecord

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


def by_hash(repo: Repository, digest: str) -> TokenRecord | None:
    row = repo.conn.execute(_BY_HASH, {"digest": digest}).first()
    return TokenRecord(*row) if row else None


def by_id(repo: Repository, token_id: int) -> TokenRecord | None:
    row = repo.conn.execute(_BY_ID, {"token_id": token_id}).first()
    return TokenRecord(*row) if row else None


def all_tokens(repo: Repository) -> list[TokenRecord]:
    return [TokenRecord(*row) for row in repo.conn.execute(_ALL)]


def insert_token(
    repo: Repository, *, digest: str, description: str, now: float, expires_at: float | None, max_uses: int | None
) -> int:
    repo.writes += 1
    values = {
        "token_hash": digest,
        "description": description,
        "created_at": now,
        "expires_at": expires_at,
        "max_uses": max_uses,
        "uses": 0,
    }
    return int(repo.conn.execute(_INSERT, values).scalar_one())


def revoke(repo: Repository, token_id: int, now: float) -> bool:
    """True when this call revoked it (False: already revoked)."""
    changed = repo.conn.execute(_REVOKE, {"token_id": token_id, "now": now}).rowcount
    repo.writes += changed
    return bool(changed)


def consume(repo: Repository, token_id: int, now: float) -> bool:
    """Count one use if one is left (and the token is neither revoked nor expired); False when none is."""
    changed = repo.conn.execute(_CONSUME, {"token_id": token_id, "now": now}).rowcount
    repo.writes += changed
    return bool(changed)
