"""`hubnet routers list|delete` end to end against a real `hubnet server` in agent mode: a table and JSON, the
status and last report of each router agent, deletion, and an API error as the problem's detail with exit 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.agents import Api, agent_servers
from tests.integration.support import Databases, Server, run_hubnet


@pytest.fixture(scope="module")
def server(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The CLI only speaks HTTP: one database kind is enough (the API tests cover both)."""
    with agent_servers(databases, "sqlite", Path(tmp_path_factory.mktemp("routers-cli"))) as srv:
        yield srv


def test_list_and_delete(server: Server) -> None:
    env = {"HUBNET_URL": server.url, "HUBNET_TOKEN": server.admin}
    api = Api(server)
    r1 = api.join("cli-r1")
    api.join("cli-r2")
    api.call(
        "POST",
        "/v1/routers/cli-r1/report",
        r1,
        json={
            "revision": 3,
            "complete": True,
            "route_count": 12,
            "missing": 1,
            "unexpected": 2,
            "error": "netlink busy",
        },
    )

    done = run_hubnet(["routers", "list"], env)
    assert done.returncode == 0, done.stderr
    for text in ("2 router agents", "cli-r1", "cli-r2", "up", "syncing", "s ago", "never", "12", "netlink busy"):
        assert text in done.stdout, done.stdout
    for args in (["routers", "list", "--json"], ["routers", "list", "-o", "json"]):
        listed = json.loads(run_hubnet(args, env).stdout)
        assert [(r["name"], r["status"], r["route_count"]) for r in listed] == [
            ("cli-r1", "up", 12),
            ("cli-r2", "syncing", 0),
        ]

    done = run_hubnet(["routers", "delete", "cli-r2"], env)
    assert done.returncode == 0 and "deleted router agent cli-r2" in done.stdout, done.stderr
    assert json.loads(run_hubnet(["routers", "delete", "cli-r1", "--json"], env).stdout) == {
        "deleted": "router",
        "name": "cli-r1",
    }
    assert json.loads(run_hubnet(["routers", "list", "--json"], env).stdout) == []

    gone = run_hubnet(["routers", "delete", "cli-r1"], env)
    assert gone.returncode == 1 and "router 'cli-r1' not found" in gone.stderr
    refused = run_hubnet(["routers", "list"], {**env, "HUBNET_TOKEN": r1})
    assert refused.returncode == 1 and "401" in refused.stderr
