"""Request dependencies as `Annotated` aliases: the controller context and the bearer token.

Both are `async def` on purpose: FastAPI runs sync dependencies in its thread pool, a hop per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

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
