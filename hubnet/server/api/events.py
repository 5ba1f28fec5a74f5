"""/v1/events?since=REV&wait=S: the watch feed, long-polling up to `wait` seconds when nothing is newer."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hubnet.server.api.deps import Admin, Ctl
from hubnet.server.api.schemas import EventPage
from hubnet.server.services import events

router = APIRouter(prefix="/v1", tags=["events"])

# Changes committed by *other* controller processes are seen by re-reading at least this often.
DB_POLL_SECONDS = 0.5


@router.get("/events", response_model=EventPage)
async def list_events(
    request: Request,
    ctl: Ctl,
    token: Admin,
    since: Annotated[int, Query(ge=0)] = 0,
    wait: Annotated[float, Query(ge=0, le=300)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> JSONResponse:
    """Events after `since`, oldest first. With `wait`, returns as soon as one is committed (or at the deadline)."""
    await run_in_threadpool(events.authorize, ctl, token=token)
    notifier = request.app.state.notifier
    deadline = time.monotonic() + wait
    while True:
        seen = notifier.version
        items, revision = await run_in_threadpool(events.since, ctl, revision=since, limit=limit)
        remaining = deadline - time.monotonic()
        if items or remaining <= 0:
            return JSONResponse({"items": [asdict(i) for i in items], "revision": revision})
        await notifier.wait(seen, min(remaining, DB_POLL_SECONDS))


class Notifier:
    """Wakes long-polls when this process commits a change. Bound to the server's event loop at start-up."""

    def __init__(self) -> None:
        self.version = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop, self._changed = loop, asyncio.Event()

    def publish(self, _revision: int | None = None) -> None:
        """Thread-safe: called after a commit from a worker thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        self.version += 1
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    async def wait(self, seen: int, timeout: float) -> None:
        if self.version != seen or self._changed is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)
