"""Rate limits in front of the API: a token bucket per credential and one per client address for failed logins.

- Every `/v1` request carrying a bearer credential spends from that credential's bucket (keyed by its sha256, so
  no credential is kept in memory in plain text). An empty bucket -> 429 + `Retry-After`, before the app runs.
- Every 401 answer spends from the client address's failure bucket; while it is empty, that address gets 429 on
  `/v1` (guessing credentials costs time, and unknown tokens cannot each get a fresh bucket) — except for
  credentials that recently succeeded: many nodes may share one address (NAT, a load balancer), and one node with
  a wrong secret, or an attacker, must not cut every other node's heartbeats off.
Probes (`/healthz`, `/readyz`, `/metrics`) are never limited.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hubnet.server.api.problems import PROBLEM, problem_type
from hubnet.server.domain.ratelimit import Buckets, retry_after
from hubnet.server.settings import Settings


class RateLimit:
    """Pure ASGI middleware; a `limits` member None disables that limit."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: Limits,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app, self.credentials, self.failures, self.clock = app, limits.credentials, limits.failures, clock
        self.trusted = _Recent(max_keys=100_000)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = str(client[0]) if client else "-"
        now = self.clock()
        bearer = _bearer(scope)
        key = hashlib.sha256(bearer).hexdigest() if bearer else None
        locked = self.failures is not None and (wait := self.failures.empty(address, now)) > 0
        if locked and not (key and key in self.trusted):
            await _refuse(send, wait, f"too many failed authentications from {address}")
            return
        if key and self.credentials is not None and (wait := self.credentials.take(key, now)) > 0:
            await _refuse(send, wait, "rate limit of this credential exceeded")
            return
        if self.failures is None:
            await self.app(scope, receive, send)
            return
        failures, trusted = self.failures, self.trusted

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                if message["status"] == 401:
                    failures.take(address, self.clock())
                elif key and 200 <= message["status"] < 300:
                    trusted.add(key)
            await send(message)

        await self.app(scope, receive, counting)


class _Recent:
    """A bounded set of credential hashes that authenticated recently (least recently seen dropped first)."""

    def __init__(self, *, max_keys: int) -> None:
        self.max_keys = max_keys
        self._keys: OrderedDict[str, None] = OrderedDict()

    def add(self, key: str) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        if len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._keys


def _bearer(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            return token.strip() if scheme.lower() == b"bearer" and token.strip() else None
    return None


async def _refuse(send: Send, wait: float, detail: str) -> None:
    seconds = retry_after(wait)
    body = {
        "type": problem_type("rate-limited"),
        "title": "Too many requests",
        "status": 429,
        "detail": f"{detail}; retry after {seconds} s",
    }
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", PROBLEM.encode()),
        (b"content-length", str(len(payload)).encode()),
        (b"retry-after", str(seconds).encode()),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class Limits(NamedTuple):
    credentials: Buckets | None
    failures: Buckets | None


def rate_limits(settings: Settings) -> Limits:
    """The middleware's buckets from HUBNET_RATE_LIMIT_* (a rate of 0 disables that limit)."""
    credentials = failures = None
    if settings.rate_limit_per_second > 0:
        credentials = Buckets(settings.rate_limit_per_second, settings.rate_limit_burst)
    if settings.rate_limit_auth_failures_per_second > 0:
        failures = Buckets(settings.rate_limit_auth_failures_per_second, settings.rate_limit_auth_failures_burst)
    return Limits(credentials, failures)
