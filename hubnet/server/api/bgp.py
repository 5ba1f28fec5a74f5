"""/v1/bgp/peers: the BGP peers of the `bgp` route backend (admin). Handlers only translate HTTP.

The caller is authenticated before the body or the path is looked at (the `Admin` dependency runs first): without
an admin credential the answer is 401 or 403 whatever was sent, never a 422 that would describe the API. The body
is then read and validated by `hubnet.server.bgp.peers.parse_peer` (422 naming the field); the schema below only
documents it.
"""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from hubnet.server.api.deps import Admin, Ctl
from hubnet.server.api.openapi import json_body
from hubnet.server.bgp import peers as rules
from hubnet.server.domain.errors import InvalidInput
from hubnet.server.services import bgp as peers
from hubnet.wire import BgpPeer

router = APIRouter(prefix="/v1/bgp/peers", tags=["bgp"])


class PeerRequest(BaseModel):
    """The body of `POST /v1/bgp/peers` (documentation: `parse_peer` checks it, with its own messages)."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field(
        max_length=64,
        description="the peer's unicast IPv4 or IPv6 address (not loopback, unspecified, multicast or reserved); a "
        "link-local IPv6 address with its interface as zone: fe80::1%eth0",
        examples=["192.168.1.1", "fd00:1::1"],
    )
    asn: int = Field(ge=rules.ASN_RANGE.start, le=rules.ASN_RANGE.stop - 1, description="the peer's AS number")
    password: str | None = Field(
        default=None,
        min_length=1,
        max_length=rules.MAX_PASSWORD,
        pattern="^[ -~]*$",
        description="TCP MD5 key (printable ASCII); never returned",
    )
    multihop: int | None = Field(
        default=None,
        ge=rules.TTL_RANGE.start,
        le=rules.TTL_RANGE.stop - 1,
        description="eBGP multihop TTL; null: a directly connected peer",
    )
    description: str = Field(default="", max_length=rules.MAX_DESCRIPTION, pattern="^[^\\x00-\\x1f\\x7f]*$")


class PeerList(BaseModel):
    items: list[BgpPeer]


AddressParam = Annotated[str, PathParam(description="the peer's address, any spelling", examples=["fd00:1::1"])]


@router.post("", response_model=BgpPeer, status_code=201, openapi_extra=json_body(PeerRequest))
async def add(ctl: Ctl, token: Admin, request: Request, response: Response) -> BgpPeer:
    """Add a peer: `{"address", "asn", "password"?, "multihop"?, "description"?}` → 201 and the peer (never its
    password: `password_set`), `Location` naming it. 422 naming the field, 409 `peer-exists` naming `address`."""
    body = _json(await request.body())
    peer = await run_in_threadpool(peers.add_peer, ctl, token=token, body=body)
    response.headers["Location"] = f"{router.prefix}/{quote(peer.address, safe=':')}"
    return peer


@router.get("", response_model=PeerList)
def list_peers(ctl: Ctl, token: Admin) -> PeerList:
    """Every peer with its session as this controller's speaker sees it (state, uptime, prefixes, last error)."""
    return PeerList(items=peers.list_peers(ctl, token=token))


@router.get("/{address}", response_model=BgpPeer)
def get(address: AddressParam, ctl: Ctl, token: Admin) -> BgpPeer:
    """One peer (`GET /v1/bgp/peers/FD00:1::1` finds `fd00:1::1`); 404 naming `address`."""
    return peers.get_peer(ctl, token=token, address=address)


@router.delete("/{address}", status_code=204)
def delete(address: AddressParam, ctl: Ctl, token: Admin) -> Response:
    """Delete a peer (any spelling of its address); the speaker closes the session at the next peer sync. 404
    naming `address` when there is none."""
    peers.delete_peer(ctl, token=token, address=address)
    return Response(status_code=204)


def _json(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError as exc:  # also bad UTF-8
        raise InvalidInput(f"body: not a JSON document ({exc})", field="body") from None
