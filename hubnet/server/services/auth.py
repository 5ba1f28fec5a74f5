"""Who is calling: an admin token, a bootstrap token, a node's or a router agent's own secret, or nobody (401 vs 403).

Tokens from the settings are compared in constant time; a node or router secret is recognised by its sha256
(indexed), and only looked up on the paths that need to tell "another's valid secret" (403) from garbage (401).
"""

from __future__ import annotations

import hmac
from enum import StrEnum

from hubnet.server.domain.errors import Forbidden, NotFound, Unauthenticated
from hubnet.server.domain.records import NodeRecord, RouterRecord
from hubnet.server.domain.tokens import TokenRecord, refusal
from hubnet.server.services.context import Controller, hash_secret, same_hash
from hubnet.server.services.ports import UnitOfWork


class Role(StrEnum):
    ADMIN = "admin"
    BOOTSTRAP = "bootstrap"
    NONE = "none"


def _matches(token: str, allowed: tuple[str, ...]) -> bool:
    found = False
    for candidate in allowed:  # no early exit: the time taken does not say which token matched
        found |= hmac.compare_digest(token.encode(), candidate.encode())
    return found


def role(ctl: Controller, token: str | None) -> Role:
    if token and _matches(token, ctl.settings.admin_tokens):
        return Role.ADMIN
    if token and _matches(token, ctl.settings.bootstrap_tokens):
        return Role.BOOTSTRAP
    return Role.NONE


def _refuse(uow: UnitOfWork, token: str | None, what: str) -> Exception:
    """403 for a valid credential without the right, 401 for none or an unknown one."""
    if token and uow.repo.node_name_by_secret(hash_secret(token)) is not None:
        return Forbidden(f"a node secret cannot {what}")
    if token and uow.repo.routers.by_secret(hash_secret(token)) is not None:
        return Forbidden(f"a router secret cannot {what}")
    stored = uow.repo.tokens.by_hash(hash_secret(token)) if token else None
    if stored is not None and refusal(stored, uow.now, consuming=False) is None:  # revoked ones are unknown: 401
        return Forbidden(f"a bootstrap token cannot {what}")
    return Unauthenticated(f"missing or invalid bearer token (needed to {what})")


def require_admin(ctl: Controller, uow: UnitOfWork, token: str | None, what: str) -> None:
    granted = role(ctl, token)
    if granted is Role.ADMIN:
        return
    if granted is Role.BOOTSTRAP:
        raise Forbidden(f"a bootstrap token cannot {what}; an admin token is required")
    raise _refuse(uow, token, what)


def require_registrar(
    ctl: Controller, uow: UnitOfWork, token: str | None, what: str = "register a node"
) -> TokenRecord | None:
    """Admin, a configured bootstrap token (unlimited: None) or a stored, usable one (returned, to count a use)."""
    if role(ctl, token) in (Role.ADMIN, Role.BOOTSTRAP):
        return None
    if token:
        record = uow.repo.tokens.by_hash(hash_secret(token))
        if record is not None and refusal(record, uow.now, consuming=False) is None:
            return record
    raise _refuse(uow, token, f"{what}; a bootstrap token is required")


def require_route_reader(ctl: Controller, uow: UnitOfWork, token: str | None, *, nodes: bool = True) -> None:
    """Admin or any router agent's secret (the route feed), or in direct mode (HUBNET_MODE=direct) a node's secret
    unless `nodes` is False (the drift report is about the router, not for nodes); 403 for the other credentials,
    401 for none."""
    if role(ctl, token) is Role.ADMIN:
        return
    if token and uow.repo.routers.by_secret(hash_secret(token)) is not None:
        return
    if (
        nodes
        and token
        and ctl.settings.mode == "direct"
        and uow.repo.node_name_by_secret(hash_secret(token)) is not None
    ):
        return
    if role(ctl, token) is Role.BOOTSTRAP:
        raise Forbidden("a bootstrap token cannot read the route feed; an admin token or a router secret is required")
    raise _refuse(uow, token, "read the route feed; an admin token or a router secret is required")


def authorize_router(ctl: Controller, uow: UnitOfWork, token: str | None, name: str) -> RouterRecord:
    """The router `name` when the caller is an admin or that router itself; 401/403/404 otherwise.

    Another router's secret gets 403 whether or not `name` exists, so secrets cannot probe for names."""
    granted = role(ctl, token)
    router = uow.repo.routers.by_name(name)
    if granted is Role.ADMIN:
        if router is None:
            raise NotFound(f"router {name!r} not found", field="name")
        return router
    if token and router is not None and same_hash(router.secret_hash, hash_secret(token)):
        return router
    if granted is Role.BOOTSTRAP:
        raise Forbidden(f"a bootstrap token cannot act on router {name!r}")
    raise _refuse(uow, token, f"act on router {name!r}")


def authorize_node(ctl: Controller, uow: UnitOfWork, token: str | None, name: str, *, lock: bool = False) -> NodeRecord:
    """The node `name` when the caller is an admin or that node itself; 401/403/404 otherwise.

    Another node's secret gets 403 whether or not `name` exists, so secrets cannot probe for names.
    """
    granted = role(ctl, token)
    node = uow.repo.node(name, lock=lock)
    if granted is Role.ADMIN:
        if node is None:
            raise NotFound(f"node {name!r} not found")
        return node
    if token and node is not None and same_hash(node.secret_hash, hash_secret(token)):
        return node
    if granted is Role.BOOTSTRAP:
        raise Forbidden(f"a bootstrap token cannot act on node {name!r}")
    raise _refuse(uow, token, f"act on node {name!r}")
