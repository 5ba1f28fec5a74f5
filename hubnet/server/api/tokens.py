"""/v1/tokens: bootstrap tokens with optional expiry and maximum uses (admin). Handlers only translate HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from hubnet.server.api.deps import Admin, Ctl, read_body
from hubnet.server.api.openapi import json_body
from hubnet.server.api.schemas import not_bool
from hubnet.server.services import tokens
from hubnet.wire import CreatedToken
from hubnet.wire import Token as BootstrapToken

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(default="", max_length=255, description="free text: who or what the token is for")
    ttl_seconds: float | None = Field(default=None, gt=0, le=tokens.MAX_TTL_SECONDS, description="expires after")
    max_uses: int | None = Field(default=None, ge=1, le=2**31 - 1, description="registrations creating a node")

    _count = field_validator("max_uses", mode="before")(not_bool)


class TokenList(BaseModel):
    items: list[BootstrapToken]


@router.post("", response_model=CreatedToken, status_code=201, openapi_extra=json_body(TokenRequest))
async def create(ctl: Ctl, token: Admin, request: Request) -> CreatedToken:
    """Create a bootstrap token; its value is returned once and never again."""
    body = await read_body(request, TokenRequest)
    return await run_in_threadpool(
        tokens.create,
        ctl,
        token=token,
        description=body.description,
        ttl_seconds=body.ttl_seconds,
        max_uses=body.max_uses,
    )


@router.get("", response_model=TokenList)
def list_tokens(ctl: Ctl, token: Admin) -> TokenList:
    """Every stored bootstrap token with its uses and state (never the token or its hash)."""
    return TokenList(items=tokens.list_all(ctl, token=token))


@router.delete("/{token_id}", status_code=204)
def revoke(token_id: Annotated[int, Path(ge=1, le=2**31 - 1)], ctl: Ctl, token: Admin) -> Response:
    """Revoke (idempotent). Nodes already registered with it are unaffected."""
    tokens.revoke(ctl, token=token, token_id=token_id)
    return Response(status_code=204)
