"""The event feed: every change is one event in commit order, and a long-poll returns as soon as one lands."""

from __future__ import annotations

import threading
import time

from tests.integration.support import Server, node_body


def test_long_poll_returns_promptly_on_change(server: Server) -> None:
    with server.client(server.admin) as admin, server.client(server.bootstrap) as boot:
        revision = admin.get("/v1/events", params={"since": 0, "limit": 1000}).json()["revision"]
        result: dict[str, object] = {}

        def watch() -> None:
            started = time.monotonic()
            result["page"] = admin.get("/v1/events", params={"since": revision, "wait": 20}).json()
            result["returned_at"] = time.monotonic()
            result["waited"] = time.monotonic() - started

        watcher = threading.Thread(target=watch)
        watcher.start()
        time.sleep(0.5)
        body = node_body(1, prefix="ev")
        changed_at = time.monotonic()
        assert boot.post("/v1/nodes", json=body).status_code == 201
        watcher.join(timeout=25)
        assert not watcher.is_alive()
        page = result["page"]
        assert isinstance(page, dict)
        assert [(e["type"], e["node"]) for e in page["items"]] == [("node.registered", body["name"])]
        assert page["revision"] == revision + 1
        lag = float(result["returned_at"]) - changed_at  # type: ignore[arg-type]
        assert lag < 2.0, f"long-poll answered {lag:.2f}s after the change"


def test_long_poll_times_out_empty_and_events_follow_changes(server: Server) -> None:
    with server.client(server.admin) as admin, server.client(server.bootstrap) as boot:
        revision = admin.get("/v1/events", params={"since": 0, "limit": 1000}).json()["revision"]
        started = time.monotonic()
        page = admin.get("/v1/events", params={"since": revision, "wait": 1}).json()
        assert page == {"items": [], "revision": revision}
        assert 0.9 <= time.monotonic() - started < 5
        body = node_body(2, prefix="ev")
        boot.post("/v1/nodes", json=body)
        auth = {"Authorization": f"Bearer {body['secret']}"}
        boot.post(f"/v1/nodes/{body['name']}/heartbeat", headers=auth)  # a plain renewal is not a state change
        admin.delete(f"/v1/nodes/{body['name']}")
        items = admin.get("/v1/events", params={"since": revision}).json()["items"]
        assert [(e["type"], e["revision"]) for e in items] == [
            ("node.registered", revision + 1),
            ("node.released", revision + 2),
        ]
