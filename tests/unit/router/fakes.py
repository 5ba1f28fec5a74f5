"""The controllers as the router agent sees them, in memory, behind httpx.MockTransport: the HA contract's
`POST /v1/routers`, the `GET /v1/routes?since=&wait=` feed and `POST /v1/routers/{name}/report` (unit tier only)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from hubnet.node.agent.client import ControllerClient

TOKEN = "boot-token"


def routes(*pairs: str) -> list[dict[str, str]]:
    """routes("10.244.1.0/24 via 192.168.1.11", ...) as the feed writes them."""
    out = []
    for pair in pairs:
        prefix, _, hop = pair.split()
        out.append({"prefix": prefix, "next_hop": hop})
    return out


def problem(status: int, detail: str) -> httpx.Response:
    body = {"type": "urn:hubnet:problem:x", "title": "error", "status": status, "detail": detail}
    return httpx.Response(status, json=body)


class FakeControllers:
    """Nodes and their routes, a log of route-moving revisions, the routers that joined and what they reported.

    `down`: every request fails to connect (`down_hosts`: those to these hosts only); `status`: every request gets
    this error status; `garbage`: the feed answers this body; `forget(rev)`: revisions up to `rev` are no longer
    retained (a `since` at or below them is answered with the whole table)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.nodes: dict[str, dict[str, Any]] = {}
        self.log: list[tuple[int, str]] = []
        self.revision = 0
        self.retained_after = 0
        self.down = False
        self.down_hosts: set[str] = set()
        self.status: int | None = None
        self.garbage: object | None = None
        self.routers: dict[str, str] = {}  # name → secret
        self.joins = 0
        self.reports: list[dict[str, Any]] = []
        self.feeds: list[dict[str, str]] = []  # the query of every feed request

    # -- the cluster -------------------------------------------------------------------------------------------
    def set_node(self, name: str, *pairs: str, generation: int = 1) -> int:
        with self.lock:
            self.revision += 1
            self.nodes[name] = {"node": name, "generation": generation, "routes": routes(*pairs)}
            self.log.append((self.revision, name))
            return self.revision

    def remove_node(self, name: str) -> int:
        with self.lock:
            self.revision += 1
            del self.nodes[name]
            self.log.append((self.revision, name))
            return self.revision

    def forget(self, revision: int) -> None:
        self.retained_after = revision

    def client(self, urls: list[str] | tuple[str, ...] | str = "http://ctl") -> ControllerClient:
        return ControllerClient(urls, transport=httpx.MockTransport(self.handle))

    def factory(self) -> Callable[..., ControllerClient]:
        return lambda urls: self.client(urls)

    def states(self, router: str = "r1") -> dict[str, str]:
        """node → the last state router `router` reported for it (any generation)."""
        merged: dict[str, str] = {}
        for report in self.reports:
            if report["_router"] == router:
                merged.update({s["node"]: s["state"] for s in report["states"]})
        return merged

    # -- the HTTP side -----------------------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down or request.url.host in self.down_hosts:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if self.status is not None:
            return problem(self.status, "injected")
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        path = request.url.path
        if request.method == "POST" and path == "/v1/routers":
            return self._join(bearer, json.loads(request.content))
        if request.method == "GET" and path == "/v1/routes":
            return self._feed(bearer, dict(request.url.params))
        if request.method == "POST" and path.startswith("/v1/routers/") and path.endswith("/report"):
            return self._report(bearer, path.split("/")[3], json.loads(request.content))
        return problem(404, f"no route {request.method} {path}")

    def _join(self, bearer: str, body: dict[str, Any]) -> httpx.Response:
        if bearer != TOKEN:
            return problem(401, "unknown token")
        first = body["name"] not in self.routers
        self.routers[body["name"]] = body["secret"]
        self.joins += 1
        return httpx.Response(201 if first else 200, json=self._record(body["name"]))

    def _feed(self, bearer: str, query: dict[str, str]) -> httpx.Response:
        if bearer not in self.routers.values():
            return problem(401, "unknown secret")
        self.feeds.append(query)
        if self.garbage is not None:
            return httpx.Response(200, json=self.garbage)
        since, wait = int(query["since"]), float(query.get("wait", 0))
        with self.lock:
            if since == 0 or since < self.retained_after:
                body = {"revision": self.revision, "full": True, "entries": list(self.nodes.values())}
                return httpx.Response(200, json=body)
            names = dict.fromkeys(n for rev, n in self.log if rev > since)
            entries = [self.nodes.get(n, {"node": n, "generation": 0, "routes": []}) for n in names]
            revision = self.revision
        if not entries and wait:
            time.sleep(0.02)  # a long-poll that found nothing (kept short: the tests' clocks are real)
        return httpx.Response(200, json={"revision": revision, "full": False, "entries": entries})

    def _report(self, bearer: str, name: str, body: dict[str, Any]) -> httpx.Response:
        if self.routers.get(name) != bearer:
            return problem(401, "unknown secret")
        with self.lock:
            self.reports.append({**body, "_router": name})
        return httpx.Response(200, json=self._record(name))

    def _record(self, name: str) -> dict[str, Any]:
        return {
            "name": name, "status": "syncing", "last_report_at": None, "synced_at": None, "route_count": 0,
            "missing": 0, "unexpected": 0, "foreign": 0, "last_error": None, "applied_revision": None,
            "created_at": 0.0,
        }  # fmt: skip
