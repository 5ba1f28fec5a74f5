"""Bootstrap tokens managed at run time: the record and the pure rules of whether one still admits a node.

A token admits a *new* node while it is not revoked, not expired and below its maximum uses. An expired or
exhausted token still lets existing nodes re-join (an idempotent registration creates nothing, costs no use, and
needs the node's own secret anyway); a revoked one admits nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, fields

from hubnet.wire import Token, TokenFacts

TOKEN_PREFIX = "hubnet-bt-"  # recognisable in a leak scanner; the rest is 32 random bytes


@dataclass(frozen=True)
class TokenRecord(TokenFacts):
    """A stored token: never the token itself, only its sha256."""

    token_hash: str


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def refusal(token: TokenRecord, now: float, *, consuming: bool) -> str | None:
    """Why `token` cannot be used now (None when it can); `consuming`: for a registration that creates a node."""
    if token.revoked_at is not None:
        return f"bootstrap token {token.id} was revoked"
    if consuming and token.expires_at is not None and now >= token.expires_at:
        return f"bootstrap token {token.id} expired"
    if consuming and token.max_uses is not None and token.uses >= token.max_uses:
        return f"bootstrap token {token.id} has no uses left ({token.uses} of {token.max_uses} used)"
    return None


def public(token: TokenRecord, now: float) -> Token:
    """What the API shows about a token (never its hash)."""
    state = "active"
    if token.revoked_at is not None:
        state = "revoked"
    elif token.expires_at is not None and now >= token.expires_at:
        state = "expired"
    elif token.max_uses is not None and token.uses >= token.max_uses:
        state = "exhausted"
    return Token(**{f.name: getattr(token, f.name) for f in fields(TokenFacts)}, state=state)
