"""Talk to the lab's controller from the root namespace without any route or link there.

The controller listens on the underlay (192.168.1.1, or 192.168.1.2 in its own namespace in a BGP lab), which
exists only inside the lab's namespaces. A socket created in the controller's namespace (see
`hubnet.linux.labnet.socket_in`) reaches it; stdlib http.client rides on it.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from typing import Any

from hubnet.lab.plan import CONTROLLER_PORT, ROUTER_ADDRESS, LabPlan
from hubnet.linux.labnet import socket_in
from hubnet.wire import parse_problem


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError:
        return body[:200].decode(errors="replace") or None


class ControllerError(RuntimeError):
    """The controller did not answer (`status` 0), or answered with an error status."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class _NetnsConnection(http.client.HTTPConnection):
    def __init__(self, netns: str, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._netns = netns

    def connect(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket_in(self._netns, family=family)
        sock.settimeout(self.timeout)
        try:
            sock.connect((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.sock = sock


class LabController:
    """A minimal admin client for the controller at 192.168.1.1:6780 (or `host`: the IPv6 router address of an
    IPv6-only lab), reached from inside `netns`."""

    def __init__(self, netns: str, token: str, timeout: float = 5.0, host: str = str(ROUTER_ADDRESS)) -> None:
        self.netns = netns
        self.token = token
        self.timeout = timeout
        self.host = host

    @classmethod
    def of(cls, plan: LabPlan, token: str, timeout: float = 5.0) -> LabController:
        """The client of a planned lab's controller, wherever it runs (router namespace or its own)."""
        return cls(plan.controller_netns, token, timeout=timeout, host=str(plan.controller_address))

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("POST", path, body)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One request; the decoded JSON answer. ControllerError (with `status`, 0 when there was no answer)
        otherwise."""
        conn = _NetnsConnection(self.netns, self.host, CONTROLLER_PORT, self.timeout)
        headers = {"Authorization": f"Bearer {self.token}"}
        payload = None if body is None else json.dumps(body).encode()
        if payload is not None:
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as exc:
            raise ControllerError(f"{method} {path} on the lab controller failed: {exc}") from exc
        finally:
            conn.close()
        if resp.status >= 400:
            problem = parse_problem(resp.status, _json(data), resp.reason)
            raise ControllerError(f"{method} {path} on the lab controller: {problem.message}", status=resp.status)
        return json.loads(data) if data else None

    def nodes(self) -> list[dict[str, Any]]:
        """All node records (following pagination)."""
        items: list[dict[str, Any]] = []
        cursor = None
        for _ in range(1000):
            page = self.get("/v1/nodes?limit=500" + (f"&cursor={cursor}" if cursor else ""))
            items.extend(page.get("items", []))
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return items

    def wait_ready(self, timeout: float, alive: Any = None) -> None:
        """Poll /readyz until 200; `alive()` returning False (the process died) stops early."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if alive is not None and not alive():
                raise ControllerError("the controller exited during start-up")
            try:
                self.get("/readyz")
                return
            except ControllerError as exc:
                last = str(exc)
            time.sleep(0.1)
        raise ControllerError(f"the controller was not ready within {timeout:.0f}s ({last})")

    def wait_routes(self, names: list[str], timeout: float) -> dict[str, dict[str, Any]]:
        """Wait until every named node is registered with route_state 'programmed'; their records."""
        deadline = time.monotonic() + timeout
        seen: dict[str, dict[str, Any]] = {}
        while time.monotonic() < deadline:
            seen = {n["name"]: n for n in self.nodes() if n.get("name") in names}
            if len(seen) == len(names) and all(n.get("route_state") == "programmed" for n in seen.values()):
                return seen
            time.sleep(0.05)  # a GET of 8-200 records: cheap next to the half second a node waits for its route
        states = {n: seen.get(n, {}).get("route_state", "not registered") for n in names}
        raise ControllerError(f"routes not programmed within {timeout:.0f}s: {states}")
