"""Request dependencies as `Annotated` aliases: the controller context, the bearer token, and who may call.

Every `/v1` operation names who may call it with one of `Admin`, `Registrar`, `NodeOrAdmin` or `OwnNodeOrAdmin`.
Each documents its roles as OpenAPI security requirements (the bearer schemes `admin`, `bootstrap`, `node`; an
operation with none is anonymous), so the document says which operations are admin only, and each refuses a
caller without the role *before* the query, path or body is validated: 401 (no or an unknown credential) or 403 (a
valid credential without the right), never a 422 that would describe the API to anyone. A body is therefore read by
the handler (`read_body`), after the caller is known, and documented with `openapi.json_body`.

The dependencies are `async def` on purpose: FastAPI runs sync dependencies in its thread pool, a hop per request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from hubnet.server.domain.errors import Unauthenticated
from hubnet.server.services import auth
from hubnet.server.services.context import Controller

M = TypeVar("M", bound=BaseModel)

# Documentation only (they read nothing we use): the roles as OpenAPI bearer schemes, named in docs/api.md.
ADMIN_SCHEME = HTTPBearer(scheme_name="admin", description="an admin token (HUBNET_ADMIN_TOKENS)", auto_error=False)
BOOTSTRAP_SCHEME = HTTPBearer(
    scheme_name="bootstrap",
    description="a bootstrap token (HUBNET_BOOTSTRAP_TOKENS or POST /v1/tokens): may register nodes, nothing else",
    auto_error=False,
)
ROUTER_SCHEME = HTTPBearer(
    scheme_name="router",
    description="a router agent's own secret (sent when it joined): the route feed and its own record `{name}` only",
    auto_error=False,
)
NODE_SCHEME = HTTPBearer(
    scheme_name="node",
    description="the node's own secret (sent at registration): its own record `{name}` only",
    auto_error=False,
)


async def _controller(request: Request) -> Controller:
    ctl: Controller = request.app.state.controller
    return ctl


async def _bearer(authorization: Annotated[str | None, Header(include_in_schema=False)] = None) -> str | None:
    """The token of `Authorization: Bearer <token>`; None when absent or another scheme (-> 401 later)."""
    return bearer_token(authorization)


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


Ctl = Annotated[Controller, Depends(_controller)]
Token = Annotated[str | None, Depends(_bearer)]


def _what(request: Request) -> str:
    """The operation, for messages: `POST /v1/pools` (the path template, never a value from the request)."""
    route = request.scope.get("route")
    return f"call {request.method} {getattr(route, 'path', request.url.path)}"


async def _admin(
    request: Request, ctl: Ctl, token: Token, _as_admin: Annotated[object, Depends(ADMIN_SCHEME)]
) -> str | None:
    """401 / 403 unless the caller is an admin; configured tokens are checked in memory, the rest needs a read."""
    if auth.role(ctl, token) is not auth.Role.ADMIN:
        what = _what(request)
        await run_in_threadpool(ctl.read, lambda uow: auth.require_admin(ctl, uow, token, what))
    return token


def registrar(what: str = "register a node") -> Callable[..., Awaitable[str | None]]:
    """The dependency: 401 / 403 unless the caller holds a bootstrap token (configured, or stored and usable) or is
    an admin, `what` naming the operation in the refusal; the use case checks again in its transaction (a stored
    token may be used up meanwhile)."""

    async def _registrar(
        ctl: Ctl,
        token: Token,
        _as_admin: Annotated[object, Depends(ADMIN_SCHEME)],
        _as_bootstrap: Annotated[object, Depends(BOOTSTRAP_SCHEME)],
    ) -> str | None:
        return await require_registrar(ctl, token, what)

    return _registrar


async def require_registrar(ctl: Controller, token: str | None, what: str) -> str | None:
    """`Registrar`'s check, for a hot handler that reads its request itself (no dependency graph to solve)."""
    if auth.role(ctl, token) is auth.Role.NONE:
        await run_in_threadpool(ctl.read, lambda uow: auth.require_registrar(ctl, uow, token, what))
    return token


# The OpenAPI security requirement `Registrar` documents, for a handler that checks it with `require_registrar`.
REGISTRAR_SECURITY: dict[str, Any] = {"security": [{ADMIN_SCHEME.scheme_name: []}, {BOOTSTRAP_SCHEME.scheme_name: []}]}


async def _node_or_admin(
    name: str,
    ctl: Ctl,
    token: Token,
    _as_admin: Annotated[object, Depends(ADMIN_SCHEME)],
    _as_node: Annotated[object, Depends(NODE_SCHEME)],
) -> str | None:
    """401 / 403 unless the caller is an admin or the node `name` itself (its secret)."""
    if auth.role(ctl, token) is not auth.Role.ADMIN:
        await run_in_threadpool(ctl.read, lambda uow: auth.authorize_node(ctl, uow, token, name))
    return token


async def _own_node_or_admin(
    ctl: Ctl,
    token: Token,
    _as_admin: Annotated[object, Depends(ADMIN_SCHEME)],
    _as_node: Annotated[object, Depends(NODE_SCHEME)],
) -> str | None:
    """Like `NodeOrAdmin` for a hot path whose use case authorizes the caller itself, first thing in its one
    transaction (no second read): only a missing credential is refused here. The handler must validate nothing
    before the use case has authorized the caller."""
    if token is None:
        raise Unauthenticated("missing or invalid bearer token (needed to act on a node)")
    return token


Admin = Annotated[str | None, Depends(_admin)]
Registrar = Annotated[str | None, Depends(registrar())]
NodeOrAdmin = Annotated[str | None, Depends(_node_or_admin)]
OwnNodeOrAdmin = Annotated[str | None, Depends(_own_node_or_admin)]


async def read_body(request: Request, model: type[M]) -> M:
    """The JSON body validated like FastAPI would (422 naming the field), read once the caller is known."""
    return parse_body(await request.body(), model)


def parse_body(raw: bytes, model: type[M]) -> M:
    """`raw` as `model`, or RequestValidationError (422 naming the field; `body` when it is not JSON at all)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None
