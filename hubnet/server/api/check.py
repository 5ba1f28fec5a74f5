"""GET /v1/check: the integrity check (admin). 200 with the report whether or not problems were found."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from hubnet.server.api.deps import Admin, Ctl
from hubnet.server.services import integrity

router = APIRouter(tags=["check"])


@router.get("/v1/check")
def check(request: Request, ctl: Ctl, token: Admin) -> JSONResponse:
    """Cross-check the database, the router's owned routes and the agents' bridge reports (admin)."""
    state = request.app.state
    report = integrity.run(ctl, token=token, routes=state.reconciler, bridges=state.bridges)
    return JSONResponse(report.as_dict())
