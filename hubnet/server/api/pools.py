"""/v1/pools and /v1/lookup (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import Response

from hubnet.server.api.deps import Ctl, Token
from hubnet.server.api.schemas import PoolList, PoolRequest
from hubnet.server.services import pools
from hubnet.wire import Node, Pool

router = APIRouter(prefix="/v1", tags=["pools"])
CIDR_PATTERN = r"^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$"  # the shape; the service checks the value


@router.get("/pools", response_model=PoolList)
def list_pools(ctl: Ctl, token: Token) -> PoolList:
    """Per pool: total, allocated, free subnets; plus `flagged`: stored rows outside every pool or unparsable."""
    usage, flagged = pools.list_pools(ctl, token=token)
    percent = ctl.settings.pool_warn_free
    warnings = [pools.warning(u, percent) for u in usage if u.low]
    return PoolList(items=usage, flagged=flagged, warn_free_percent=percent, warnings=warnings)


@router.post("/pools", response_model=Pool, status_code=201)
def add_pool(body: PoolRequest, ctl: Ctl, token: Token) -> Pool:
    """Add a pool (cluster CIDR) at run time."""
    return pools.add_pool(ctl, token=token, cidr=body.cidr, node_prefix=body.node_prefix)


@router.delete("/pools/{cidr:path}", status_code=204)
def delete_pool(
    cidr: Annotated[str, PathParam(pattern=CIDR_PATTERN, examples=["10.250.0.0/16"])], ctl: Ctl, token: Token
) -> Response:
    """Delete a pool (`DELETE /v1/pools/10.250.0.0/16`): 409 while a live node holds a subnet of it or it is the
    configured HUBNET_CLUSTER_CIDR."""
    pools.delete_pool(ctl, token=token, cidr=cidr)
    return Response(status_code=204)


@router.get("/lookup", response_model=Node)
def lookup(ctl: Ctl, token: Token, ip: Annotated[str, Query(max_length=64)]) -> Node:
    """The node whose subnet holds `ip`, or 404."""
    return pools.lookup(ctl, token=token, ip=ip)
