"""/v1/pools and /v1/lookup (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from hubnet.server.api.deps import Admin, Ctl, read_body
from hubnet.server.api.openapi import json_body
from hubnet.server.api.schemas import PoolList, PoolRequest
from hubnet.server.services import pools
from hubnet.wire import Node, Pool

router = APIRouter(prefix="/v1", tags=["pools"])
# The shape of an IPv4 or IPv6 CIDR; the service checks the value.
CIDR_PATTERN = r"^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*)/[0-9]{1,3}$"


@router.get("/pools", response_model=PoolList)
def list_pools(ctl: Ctl, token: Admin) -> PoolList:
    """Per pool (both families, IPv4 first): total, allocated, free subnets; plus `flagged`: stored rows outside
    every pool or unparsable."""
    usage, flagged, warnings = pools.list_pools(ctl, token=token)
    return PoolList(
        items=usage,
        flagged=flagged,
        warn_free_percent=ctl.settings.pool_warn_free,
        warnings=warnings,
        quarantine_seconds=ctl.settings.quarantine_seconds,
    )


@router.post("/pools", response_model=Pool, status_code=201, openapi_extra=json_body(PoolRequest))
async def add_pool(ctl: Ctl, token: Admin, request: Request) -> Pool:
    """Add a pool (cluster CIDR) of either family at run time; `node_prefix` defaults to the family's."""
    body = await read_body(request, PoolRequest)
    return await run_in_threadpool(pools.add_pool, ctl, token=token, cidr=body.cidr, node_prefix=body.node_prefix)


@router.delete("/pools/{cidr:path}", status_code=204)
def delete_pool(
    cidr: Annotated[str, PathParam(pattern=CIDR_PATTERN, examples=["10.250.0.0/16", "fd00:10:250::/56"])],
    ctl: Ctl,
    token: Admin,
) -> Response:
    """Delete a pool (`DELETE /v1/pools/10.250.0.0/16`, `DELETE /v1/pools/fd00:10:250::/56`): 409 while a live
    node holds a subnet of it or it is a configured HUBNET_CLUSTER_CIDR."""
    pools.delete_pool(ctl, token=token, cidr=cidr)
    return Response(status_code=204)


@router.get("/lookup", response_model=Node)
def lookup(ctl: Ctl, token: Admin, ip: Annotated[str, Query(max_length=64)]) -> Node:
    """The node whose subnet holds `ip` (an IPv4 or IPv6 address), or 404."""
    return pools.lookup(ctl, token=token, ip=ip)
