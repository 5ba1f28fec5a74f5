"""A thin client of the controller's admin API (v1). The admin CLI's only httpx user.

Errors are translated once, here: transport failures and problem+json answers both become `ApiError`
with a message a person can act on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from hubnet.wire import Node, Pool, R, WireError, parse_problem


class ApiError(Exception):
    """The controller could not be reached or answered with an error (problem+json when it did answer)."""

    def __init__(self, message: str, *, status: int | None = None, problem: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.problem = problem or {}


def _problem_message(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    problem = parse_problem(response.status_code, body, response.reason_phrase)
    return ApiError(problem.message, status=response.status_code, problem=problem.body)


class AdminClient:
    """Calls the admin endpoints with a bearer token. Use as a context manager."""

    def __init__(self, url: str, token: str | None, *, timeout: float = 10.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._url = url.rstrip("/")
        self._http = httpx.Client(base_url=self._url, headers=headers, timeout=timeout)

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach the controller at {self._url}: {exc}") from exc
        if response.status_code >= 400:
            raise _problem_message(response)
        return response

    def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self._request("GET", path, params=clean).json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._request("POST", path, json=body).json()

    def delete(self, path: str) -> None:
        self._request("DELETE", path)

    def nodes(self, *, state: str | None = None, page_size: int = 500) -> Iterator[Node]:
        """Every node, following the cursor across pages."""
        cursor: str | None = None
        while True:
            page = self.get("/v1/nodes", state=state, limit=page_size, cursor=cursor)
            yield from (self._parse(Node, item) for item in page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def node(self, name: str) -> Node:
        return self._parse(Node, self.get(f"/v1/nodes/{name}"))

    def lookup(self, ip: str) -> Node:
        return self._parse(Node, self.get("/v1/lookup", ip=ip))

    def pools(self) -> tuple[list[Pool], list[str]]:
        """Every pool's usage, and the warnings about pools low on free subnets."""
        body = self.get("/v1/pools")
        return [self._parse(Pool, item) for item in body["items"]], list(body.get("warnings", []))

    def add_pool(self, cidr: str, node_prefix: int | None = None) -> Pool:
        """Without `node_prefix` the controller uses its own for the pool's family."""
        body: dict[str, Any] = {"cidr": cidr}
        if node_prefix is not None:
            body["node_prefix"] = node_prefix
        return self._parse(Pool, self.post("/v1/pools", body))

    def _parse(self, kind: type[R], data: object) -> R:
        try:
            return kind.from_json(data)
        except WireError as exc:
            raise ApiError(f"unexpected answer from the controller at {self._url}: {exc}") from None

    def events(self, *, since: int, wait: float | None = None) -> dict[str, Any]:
        timeout = httpx.Timeout(10.0 + (wait or 0.0))
        params: dict[str, Any] = {"since": since}
        if wait is not None:
            params["wait"] = wait
        try:
            response = self._http.get("/v1/events", params=params, timeout=timeout)
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach the controller at {self._url}: {exc}") from exc
        if response.status_code >= 400:
            raise _problem_message(response)
        result: dict[str, Any] = response.json()
        return result
