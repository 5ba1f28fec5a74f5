"""Refuse request bodies over the limit: by Content-Length up front, and by counting a streamed body."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hubnet.server.api.problems import PROBLEM, problem_type


class BodyLimit:
    """Pure ASGI middleware: 413 problem+json before the app runs, whether the size is declared or streamed.
    `larger`: (path pattern, limit) for the few paths whose bodies may be bigger (a router's full report)."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: Sequence[tuple[str, int]] = ()) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.larger = [(re.compile(pattern), limit) for pattern, limit in larger]

    def _limit(self, path: str) -> int:
        return next((limit for pattern, limit in self.larger if pattern.match(path)), self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"]) if self.larger else self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(send, limit)
            return
        if declared is not None:
            await self.app(scope, receive, send)  # the HTTP server enforces the declared length
            return
        # A streamed (chunked) body: buffer at most the limit here, so an oversized one never reaches the app.
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > limit:
                await self._refuse(send, limit)
                return
        body, sent = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, limit: int) -> None:
        detail = f"request body exceeds {limit} bytes"
        body = {"type": problem_type("body-too-large"), "title": "Request body too large", "status": 413}
        payload = json.dumps({**body, "detail": detail, "errors": [{"field": "body", "message": detail}]}).encode()
        headers = [(b"content-type", PROBLEM.encode()), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
