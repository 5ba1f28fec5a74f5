"""The controller's HTTP API as the node sees it. The only module of the node side that imports httpx."""

from __future__ import annotations

from typing import Any

import httpx


class ControllerError(Exception):
    """The controller answered with an error (`status`: HTTP status; `problem`: the problem type's last part,
    e.g. `lease-released`, or "" when the body named none)."""

    def __init__(self, message: str, status: int | None = None, problem: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.problem = problem


class Unreachable(ControllerError):
    """No answer: connection refused, timeout, DNS. The agent keeps the node running and retries."""


class ControllerClient:
    def __init__(self, base_url: str, *, timeout: float = 5.0, transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def register(self, *, token: str, name: str, address: str, secret: str) -> dict[str, Any]:
        body = {"name": name, "address": address, "secret": secret}
        return self._call("POST", "/v1/nodes", token, json=body)

    def heartbeat(self, *, name: str, secret: str, bridge: dict[str, Any] | None = None) -> dict[str, Any]:
        """Renew the lease; `bridge` ({"name", "addresses"}) feeds the controller's integrity check."""
        body = {"bridge": bridge} if bridge is not None else None
        return self._call("POST", f"/v1/nodes/{name}/heartbeat", secret, json=body)

    def deregister(self, *, name: str, secret: str) -> None:
        try:
            self._call("DELETE", f"/v1/nodes/{name}", secret)
        except ControllerError as exc:
            if exc.status != 404:
                raise

    def _call(self, method: str, path: str, bearer: str, **kwargs: Any) -> dict[str, Any]:
        try:
            resp = self._http.request(method, path, headers={"Authorization": f"Bearer {bearer}"}, **kwargs)
        except httpx.HTTPError as exc:
            raise Unreachable(f"{method} {path}: controller unreachable: {exc}") from None
        if resp.status_code >= 400:
            message = f"{method} {path}: HTTP {resp.status_code}: {_detail(resp)}"
            raise ControllerError(message, resp.status_code, _problem(resp))
        if resp.status_code == 204 or not resp.content:
            return {}
        data = resp.json()
        if not isinstance(data, dict):
            raise ControllerError(f"{method} {path}: unexpected body {data!r}", resp.status_code)
        return data


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)
    return str(body)


def _problem(resp: httpx.Response) -> str:
    """`lease-released` of `{"type": "urn:hubnet:problem:lease-released", ...}`; "" when absent or unreadable."""
    try:
        body = resp.json()
    except ValueError:
        return ""
    kind = body.get("type") if isinstance(body, dict) else None
    return kind.rsplit(":", 1)[-1] if isinstance(kind, str) else ""
