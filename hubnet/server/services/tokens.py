"""Bootstrap-token use cases: create / list / revoke (admin), and admitting a registration with a stored token.

The token itself is returned once, at creation; the database holds only its sha256 (as for node secrets).
"""

from __future__ import annotations

from hubnet.server.domain.errors import Forbidden, InvalidInput, NotFound
from hubnet.server.domain.tokens import TokenRecord, new_token, public, refusal
from hubnet.server.services.auth import require_admin
from hubnet.server.services.context import Controller, hash_secret
from hubnet.server.services.ports import UnitOfWork
from hubnet.wire import CreatedToken, Token

MAX_TTL_SECONDS = 10 * 365 * 86400.0


def create(
    ctl: Controller, *, token: str | None, description: str, ttl_seconds: float | None, max_uses: int | None
) -> CreatedToken:
    """A new token (the only time its value is shown) with its public record."""
    if ttl_seconds is not None and not 0 < ttl_seconds <= MAX_TTL_SECONDS:
        raise InvalidInput(f"ttl_seconds must be in (0, {MAX_TTL_SECONDS:.0f}]", field="ttl_seconds")
    if max_uses is not None and max_uses < 1:
        raise InvalidInput("max_uses must be at least 1", field="max_uses")
    value = new_token()

    def use_case(uow: UnitOfWork) -> CreatedToken:
        require_admin(ctl, uow, token, "create bootstrap tokens")
        expires = None if ttl_seconds is None else uow.now + ttl_seconds
        token_id = uow.repo.tokens.add(
            digest=hash_secret(value),
            description=description,
            now=uow.now,
            expires_at=expires,
            max_uses=max_uses,
        )
        record = uow.repo.tokens.by_id(token_id)
        assert record is not None
        return CreatedToken(**public(record, uow.now).to_json(), token=value)

    return ctl.write(use_case)


def list_all(ctl: Controller, *, token: str | None) -> list[Token]:
    def use_case(uow: UnitOfWork) -> list[Token]:
        require_admin(ctl, uow, token, "list bootstrap tokens")
        return [public(record, uow.now) for record in uow.repo.tokens.all()]

    return ctl.read(use_case)


def revoke(ctl: Controller, *, token: str | None, token_id: int) -> None:
    """Idempotent: revoking a revoked token succeeds. Nodes it admitted keep working (they hold their secrets)."""

    def use_case(uow: UnitOfWork) -> None:
        require_admin(ctl, uow, token, "revoke bootstrap tokens")
        if uow.repo.tokens.by_id(token_id) is None:
            raise NotFound(f"bootstrap token {token_id} not found")
        uow.repo.tokens.revoke(token_id, uow.now)

    ctl.write(use_case)


def consume(uow: UnitOfWork, record: TokenRecord) -> None:
    """Count one use for a registration that creates a node; Forbidden when none is left."""
    if not uow.repo.tokens.consume(record.id, uow.now):
        current = uow.repo.tokens.by_id(record.id) or record
        reason = refusal(current, uow.now, consuming=True) or f"bootstrap token {record.id} cannot be used"
        raise Forbidden(f"{reason}; an idempotent re-join still works, a new node needs another token")
