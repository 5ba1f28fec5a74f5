"""Liveness, readiness (the database answers) and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hubnet.server.api.deps import Ctl
from hubnet.server.domain.errors import Unavailable
from hubnet.server.services import pools

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
