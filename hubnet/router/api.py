"""The three calls the router agent makes (the HA contract): join, read the desired-route feed, report what is
programmed. Over `ControllerClient`, which owns httpx, translates its errors once and fails over between the
controllers."""

from __future__ import annotations

from typing import Any

from hubnet.node.agent.client import ControllerClient, ControllerError
from hubnet.router.feed import RouteFeed, parse_feed

MAX_STATES = 70_000  # the contract's limit of `states` items in one report


class RouterApi:
    def __init__(self, client: ControllerClient, *, name: str, secret: str) -> None:
        self.client, self.name, self.secret = client, name, secret

    def join(self, token: str) -> dict[str, Any]:
        """`POST /v1/routers`: create or re-join with our secret (a re-join replaces the stored hash). Returns the
        Router record. Raises ControllerError."""
        record = self.client.request("POST", "/v1/routers", token, json={"name": self.name, "secret": self.secret})
        if record.get("name") != self.name:
            raise ControllerError(f"POST /v1/routers: the answer is not router {self.name!r}: {record!r:.200}")
        return record

    def routes(self, since: int, wait: int) -> RouteFeed:
        """`GET /v1/routes?since=&wait=`: one feed answer. The answer may take `wait` seconds (a long-poll): it gets
        that much more time than the client's timeout. Raises ControllerError, or FeedError for a malformed
        answer."""
        params: dict[str, int] = {"since": since}
        if wait > 0:
            params["wait"] = wait
        data = self.client.request("GET", "/v1/routes", self.secret, params=params, timeout=wait + 10.0)
        return parse_feed(data)

    def report(self, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /v1/routers/{name}/report` (body: see `report.ReportBook.take`). Raises ControllerError."""
        return self.client.request("POST", f"/v1/routers/{self.name}/report", self.secret, json=body)

    def close(self) -> None:
        self.client.close()
