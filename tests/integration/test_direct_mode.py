"""HUBNET_MODE=direct against real `hubnet server` processes on SQLite and PostgreSQL: the mode in every node record
(`hub` by default), a node secret reading the route feed in direct mode only (403 in hub mode, as before), the drift
report still admin-only, and HUBNET_DIRECT_UNDERLAY refusing a node address off the underlay (422 on `address`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.agents import Api, agent_servers, assert_problem
from tests.integration.conftest import DB_KINDS
from tests.integration.support import Databases, Server, new_secret, node_body

FEED = "/v1/routes"
# node_body's addresses come from 172.16.0.0/12; the underlay below holds them, 192.0.2.0/24 does not
UNDERLAY = "172.16.0.0/12,fd00:99::/64"


@pytest.fixture(scope="module", params=DB_KINDS)
def direct(
    request: pytest.FixtureRequest, databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log_dir = Path(tmp_path_factory.mktemp("direct"))
    env = {"HUBNET_MODE": "direct", "HUBNET_DIRECT_UNDERLAY": UNDERLAY}
    with agent_servers(databases, str(request.param), log_dir, **env) as srv:
        yield srv


@pytest.fixture(scope="module", params=DB_KINDS)
def hub(
    request: pytest.FixtureRequest, databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log_dir = Path(tmp_path_factory.mktemp("hub"))
    with agent_servers(databases, str(request.param), log_dir) as srv:
        yield srv


def _register(api: Api, i: int, prefix: str) -> tuple[dict[str, object], str]:
    secret = new_secret()
    answer = api.call("POST", "/v1/nodes", api.server.bootstrap, json=node_body(i, prefix=prefix, secret=secret))
    assert answer.status_code == 201, answer.text
    return answer.json(), secret


def test_direct_mode_lets_a_node_follow_the_feed(direct: Server) -> None:
    api = Api(direct)
    a, secret = _register(api, 1, "dm")
    b, _ = _register(api, 2, "dm")
    assert a["mode"] == "direct" and b["mode"] == "direct"
    beat = api.call("POST", f"/v1/nodes/{a['name']}/heartbeat", secret)
    assert beat.status_code == 200 and beat.json()["mode"] == "direct"
    full = api.call("GET", FEED, secret, params={"since": 0})
    assert full.status_code == 200, full.text
    routes = {e["node"]: e["routes"] for e in full.json()["entries"]}
    assert routes[str(b["name"])] == [{"prefix": b["subnet"], "next_hop": b["address"]}]
    assert str(a["name"]) in routes  # the node's own entry too: the agent leaves its own subnet out
    # the long-poll form answers a node as well
    waited = api.call("GET", FEED, secret, params={"since": full.json()["revision"], "wait": 0.2})
    assert waited.status_code == 200 and waited.json()["full"] is False
    # the drift report stays the admin's
    assert_problem(api.call("GET", FEED, secret), 403, slug="forbidden")


def test_direct_mode_refuses_an_address_off_the_underlay(direct: Server) -> None:
    api = Api(direct)
    body = {"name": "dm-off", "address": "192.0.2.7", "secret": new_secret()}
    answer = api.call("POST", "/v1/nodes", api.server.bootstrap, json=body)
    assert_problem(answer, 422, field="address", slug="invalid-input")
    assert "HUBNET_DIRECT_UNDERLAY" in answer.json()["detail"]
    assert api.admin("GET", "/v1/nodes/dm-off").status_code == 404  # nothing allocated


def test_hub_mode_keeps_the_feed_closed_to_nodes(hub: Server) -> None:
    api = Api(hub)
    a, secret = _register(api, 1, "hm")
    assert a["mode"] == "hub"
    assert_problem(api.call("GET", FEED, secret, params={"since": 0}), 403, slug="forbidden")
    # no underlay rule in hub mode: any address registers
    off = api.call(
        "POST", "/v1/nodes", hub.bootstrap, json={"name": "hm-x", "address": "192.0.2.9", "secret": new_secret()}
    )
    assert off.status_code == 201, off.text


def test_refused_direct_routes_in_a_heartbeat_show_in_the_check(direct: Server) -> None:
    api = Api(direct)
    a, secret = _register(api, 3, "dm")
    gateway = f"{a['gateway']}/{str(a['subnet']).split('/')[1]}"
    bridge = {"name": "v-net-0", "addresses": [gateway], "direct": {"routes": 1, "failed": 2, "error": "unreachable"}}
    beat = api.call("POST", f"/v1/nodes/{a['name']}/heartbeat", secret, json={"bridge": bridge})
    assert beat.status_code == 200, beat.text
    report = api.admin("GET", "/v1/check").json()
    found = [p for p in report["problems"] if p["kind"] == "direct-routes-refused"]
    assert [p["node"] for p in found] == [a["name"]], report
    assert "2 direct route(s)" in found[0]["detail"] and "unreachable" in found[0]["detail"]
    assert report["counts"]["direct-routes-refused"] == 1
    # a clean report clears it
    bridge["direct"] = {"routes": 3, "failed": 0, "error": None}
    api.call("POST", f"/v1/nodes/{a['name']}/heartbeat", secret, json={"bridge": bridge})
    assert api.admin("GET", "/v1/check").json()["counts"]["direct-routes-refused"] == 0
