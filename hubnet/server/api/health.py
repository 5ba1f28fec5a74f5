"""Liveness, readiness (the database answers), Prometheus metrics, and the route drift report."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hubnet.server.api.deps import Ctl, Token
from hubnet.server.domain.errors import Unavailable
from hubnet.server.services import pools
from hubnet.server.services.auth import require_admin

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(ctl: Ctl) -> dict[str, Any]:
    """503 problem+json while the database cannot be reached. 200 otherwise; `"status": "degraded"` with
    `warnings` while a pool of either family is low on free subnets, or a configured HUBNET_CLUSTER_CIDR is not a
    pool (still ready: registrations of known nodes keep working)."""
    try:
        warnings = ctl.read(lambda uow: pools.warnings(ctl, uow))
    except Unavailable:
        raise
    except Exception as exc:
        raise Unavailable(f"database check failed: {exc}") from exc
    body: dict[str, Any] = {"status": "degraded" if warnings else "ready", "database": ctl.db.dialect}
    if warnings:
        body["warnings"] = warnings
    return body


@router.get("/metrics")
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/routes", tags=["routes"])
def routes(request: Request, ctl: Ctl, token: Token) -> JSONResponse:
    """Desired routes vs the routes hubnet owns on the router (admin). Without a route backend: desired only."""
    ctl.read(lambda uow: require_admin(ctl, uow, token, "read routes"))
    reconciler = request.app.state.reconciler
    if reconciler is not None:
        return JSONResponse(_jsonable(reconciler.drift()))
    from hubnet.server.services.routes import desired

    rows = [{"prefix": str(d.route.prefix), "next_hop": str(d.route.next_hop), "node": d.node} for d in desired(ctl)]
    empty: list[dict[str, str]] = []
    return JSONResponse(
        {"backend": "none", "desired": rows, "actual": empty, "missing": rows, "unexpected": empty, "foreign": empty}
    )


def _jsonable(value: Any) -> Any:
    """Routes, dataclasses and addresses from the reconciler's drift report as plain JSON."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if hasattr(value, "route") and hasattr(value, "node"):
        return {**_jsonable(value.route), "node": value.node}
    if hasattr(value, "prefix") and hasattr(value, "next_hop"):
        return {"prefix": str(value.prefix), "next_hop": str(value.next_hop)}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
