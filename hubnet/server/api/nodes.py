"""/v1/nodes: register or re-join, heartbeat, read, delete, list. Handlers only translate HTTP <-> use case."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import TypeAdapter

from hubnet.server import faults
from hubnet.server.api.deps import (
    REGISTRAR_SECURITY,
    Admin,
    Ctl,
    NodeOrAdmin,
    OwnNodeOrAdmin,
    bearer_token,
    parse_body,
    read_body,
    require_registrar,
)
from hubnet.server.api.openapi import json_body
from hubnet.server.api.schemas import HeartbeatRequest, NodePage, RegisterRequest
from hubnet.server.domain.errors import Conflict
from hubnet.server.domain.integrity import BridgeReport
from hubnet.server.domain.lease import LeaseState
from hubnet.server.services import node_reads, nodes
from hubnet.server.services.context import Controller
from hubnet.wire import Node

router = APIRouter(prefix="/v1/nodes", tags=["nodes"])


_NODE_JSON = TypeAdapter(Node)


@router.post(
    "",
    response_model=Node,
    status_code=201,
    responses={200: {"model": Node}},
    openapi_extra={**json_body(RegisterRequest), **REGISTRAR_SECURITY},
)
async def register(request: Request) -> Response:
    """Register (201) or idempotently re-join (200). Bootstrap (or admin) token.

    The caller is authenticated before the body is read: without a credential the answer is 401 whatever was sent
    (a 422 would describe the API to anyone). The use case checks again inside its transaction."""
    # The hot path of a node storm: the handler takes the request alone and does what the `Registrar` dependency
    # and the response model would (same check, same JSON), without FastAPI solving a dependency graph per call.
    started = time.perf_counter()
    ctl: Controller = request.app.state.controller
    token = await require_registrar(ctl, bearer_token(request.headers.get("authorization")), "register a node")
    body = await read_body(request, RegisterRequest)
    job = nodes.register_job(
        ctl,
        token=token,
        name=body.name,
        address=body.address,
        secret=body.secret,
        machine_id=body.machine_id,
        addresses=body.addresses,
    )
    metrics = request.app.state.metrics
    try:
        view, created = await ctl.write_async(job)
    except Conflict as exc:  # counted once per request, after any retries: pool-exhausted, subnet-reissued, ...
        metrics.allocation_failed(exc.slug)
        raise
    faults.before_response(request.app.state.reconciler)
    metrics.registration.observe(time.perf_counter() - started)
    return Response(_NODE_JSON.dump_json(view), status_code=201 if created else 200, media_type="application/json")


@router.post("/{name}/heartbeat", response_model=Node, openapi_extra=json_body(HeartbeatRequest, required=False))
async def heartbeat(name: str, ctl: Ctl, token: OwnNodeOrAdmin, request: Request) -> Node:
    """Renew the lease. The node's own secret (or admin). An optional body reports the node's bridge.

    The use case authorizes the caller first, then the body is validated (401/403 before 422), then the lease is
    renewed: a refused body changes nothing."""
    raw = await request.body()
    parsed: list[HeartbeatRequest] = []

    def validate() -> None:
        if raw.strip() not in (b"", b"null"):  # no body, or JSON null: an older agent, nothing to report
            parsed.append(parse_body(raw, HeartbeatRequest))

    view = await ctl.write_async(nodes.heartbeat_job(ctl, token=token, name=name, before_write=validate))
    bridge = parsed[0].bridge if parsed else None
    if bridge is not None:  # after the write: only an authorized caller may report
        direct = bridge.direct
        report = BridgeReport(
            bridge.name,
            tuple(bridge.addresses),
            received_at=time.time(),
            direct_failed=direct.failed if direct is not None else 0,
            direct_error=direct.error if direct is not None else None,
        )
        request.app.state.bridges.put(name, report)
    return view


@router.get("/{name}", response_model=Node)
def get(name: str, ctl: Ctl, token: NodeOrAdmin) -> Node:
    """One node record. The node's own secret, or admin."""
    return node_reads.get(ctl, token=token, name=name)


@router.delete("/{name}", status_code=204)
def delete(name: str, ctl: Ctl, token: NodeOrAdmin) -> Response:
    """Release at once (route withdrawn, subnet quarantined). The node's own secret, or admin."""
    nodes.delete(ctl, token=token, name=name)
    return Response(status_code=204)


@router.get("", response_model=NodePage)
def list_nodes(
    ctl: Ctl,
    token: Admin,
    state: Annotated[LeaseState | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> NodePage:
    """A page of nodes ordered by name (admin); follow `next_cursor` until it is null."""
    page, next_cursor = node_reads.list_nodes(
        ctl, token=token, state=state.value if state else None, limit=limit, cursor=cursor
    )
    return NodePage(items=page, next_cursor=next_cursor)
