"""A thin client of the controller's admin API (v1). The admin CLI's only httpx user.

Errors are translated once, here: transport failures and problem+json answers both become `ApiError`
with a message a person can act on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx


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
        body = {}
    if not isinstance(body, dict):
        body = {}
    title = body.get("title") or response.reason_phrase
    detail = body.get("detail")
    message = f"{response.status_code} {title}" + (f": {detail}" if detail else "")
    return ApiError(message, status=response.status_code, problem=body)


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

    def nodes(self, *, state: str | None = None, page_size: int = 500) -> Iterator[dict[str, Any]]:
        """Every node, following the cursor across pages."""
        cursor: str | None = None
        while True:
            page = self.get("/v1/nodes", state=state, limit=page_size, cursor=cursor)
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

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
