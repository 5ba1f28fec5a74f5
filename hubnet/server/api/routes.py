"""GET /v1/routes: with `since`, the desired-route feed the router agents follow (admin or a router secret);
without it, the drift report (admin or a router secret), as before the feed existed.

The caller is authenticated before a query parameter is looked at (the dependency runs first). The feed long-polls
like `/v1/events`: woken by this process's commits and, on PostgreSQL, by every other controller's (their NOTIFY,
`hubnet.server.db.listen`); it re-reads at least every `events.DB_POLL_SECONDS` in any case.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hubnet.server.api.deps import ADMIN_SCHEME, ROUTER_SCHEME, Ctl, Token
from hubnet.server.api.events import DB_POLL_SECONDS
from hubnet.server.services import auth, routefeed
from hubnet.server.services.routes import desired
from hubnet.wire import RouteFeed

router = APIRouter(tags=["routes"])
MAX_WAIT = 60.0


async def _reader(
    request: Request,
    ctl: Ctl,
    token: Token,
    _as_admin: Annotated[object, Depends(ADMIN_SCHEME)],
    _as_router: Annotated[object, Depends(ROUTER_SCHEME)],
) -> bool:
    """401 / 403 unless the caller is an admin or a router agent (in direct mode also a node: not declared, the
    document describes the default hub mode); True for an admin."""
    if auth.role(ctl, token) is auth.Role.ADMIN:
        return True
    drift = "since" not in request.query_params  # the drift report: admin or a router, never a node
    await run_in_threadpool(lambda: routefeed.authorize(ctl, token=token, nodes=not drift))
    return False


Reader = Annotated[bool, Depends(_reader)]


@router.get("/v1/routes", responses={200: {"description": "a RouteFeed (with `since`) or the drift report"}})
async def routes(
    request: Request,
    ctl: Ctl,
    admin: Reader,
    since: Annotated[int | None, Query(ge=0, description="the feed: the revision the caller holds (0: all)")] = None,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT, description="the feed: long-poll up to this many seconds")] = 0,
) -> JSONResponse:
    """With `since`: `{"revision", "full", "entries": [{"node", "generation", "routes": [{"prefix", "next_hop"}]}]}`
    (admin or a router secret). Without: desired routes vs the routes hubnet owns on the router (admin)."""
    if since is None:  # a router agent may read it too: it holds the desired routes anyway
        return JSONResponse(await run_in_threadpool(_drift, request, ctl))
    notifier = request.app.state.notifier
    deadline = time.monotonic() + wait
    while True:
        seen = notifier.version
        answer = await run_in_threadpool(routefeed.feed, ctl, since=since)
        remaining = deadline - time.monotonic()
        if answer.full or answer.entries or remaining <= 0:
            return JSONResponse(_json(answer))
        since = answer.revision  # nothing moved up to there: wait for what comes after
        await notifier.wait(seen, min(remaining, DB_POLL_SECONDS))


def _json(feed: RouteFeed) -> dict[str, Any]:
    """Built by hand: `dataclasses.asdict` copies every nested value, and a full table holds every node."""
    entries = [{"node": e.node, "generation": e.generation, "routes": e.routes} for e in feed.entries]
    return {"revision": feed.revision, "full": feed.full, "entries": entries}


def _drift(request: Request, ctl: Ctl) -> dict[str, Any]:
    reconciler = request.app.state.reconciler
    if reconciler is not None:
        return _jsonable(reconciler.drift())  # type: ignore[no-any-return]
    rows = [{"prefix": str(d.route.prefix), "next_hop": str(d.route.next_hop), "node": d.node} for d in desired(ctl)]
    empty: list[dict[str, str]] = []
    return {"backend": "none", "desired": rows, "actual": empty, "missing": rows, "unexpected": empty, "foreign": empty}


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
