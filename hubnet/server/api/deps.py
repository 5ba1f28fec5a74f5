"""Request dependencies as `Annotated` aliases: the controller context and the bearer token.

Both are `async def` on purpose: FastAPI runs sync dependencies in its thread pool, a hop per request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from hubnet.server.services import auth
from hubnet.server.services.context import Controller


async def _controller(request: Request) -> Controller:
    ctl: Controller = request.app.state.controller
    return ctl


async def _bearer(authorization: Annotated[str | None, Header(include_in_schema=False)] = None) -> str | None:
    """The token of `Authorization: Bearer <token>`; None when absent or another scheme (-> 401 later)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


Ctl = Annotated[Controller, Depends(_controller)]
Token = Annotated[str | None, Depends(_bearer)]


def admin_only(what: str) -> Callable[..., Awaitable[str | None]]:
    """A dependency that answers 401 / 403 unless the caller is an admin, before the path, query or body is looked
    at (a 422 or 404 would describe the API to anyone). Configured tokens are checked in memory, the rest needs a
    read. It returns the token."""

    async def dependency(ctl: Ctl, token: Token) -> str | None:
        if auth.role(ctl, token) is not auth.Role.ADMIN:
            await run_in_threadpool(ctl.read, lambda uow: auth.require_admin(ctl, uow, token, what))
        return token

    return dependency
