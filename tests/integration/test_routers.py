"""`/v1/routers` against a real `hubnet server` in agent mode, on SQLite and PostgreSQL: join and re-join, the
credential checked before any input (401 / 403 whatever was sent), input refused with 422 naming the field, 409
`embedded-route-backend`, reports turning into each node's `route_states` and aggregate (programmed only when every
`up` router holds the route), a silent router going down and no longer blocking, a router coming back without
flipping ready nodes, deletion."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.agents import Api, agent_server, agent_servers, assert_problem, router_secret, wait_for
from tests.integration.conftest import DB_KINDS, fresh_db
from tests.integration.support import Databases, Server, new_secret, node_body, running

ROUTERS = "/v1/routers"


@pytest.fixture(scope="module", params=DB_KINDS)
def server(
    request: pytest.FixtureRequest, databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """Agent mode; a router stays `up` for a minute without reporting (the timeout has its own server below)."""
    log_dir = Path(tmp_path_factory.mktemp("routers"))
    with agent_servers(databases, str(request.param), log_dir, HUBNET_ROUTER_DOWN_SECONDS="60") as srv:
        yield srv


@pytest.fixture
def api(server: Server) -> Iterator[Api]:
    """Every router a test joins is deleted afterwards: one still `up` would hold the next test's nodes pending."""
    client = Api(server)
    yield client
    client.cleanup()


@pytest.fixture(scope="module")
def node_secret(server: Server) -> str:
    secret = new_secret()
    body = {**node_body(1, prefix="routers-auth"), "secret": secret}
    with server.client(server.bootstrap) as boot:
        assert boot.post("/v1/nodes", json=body).status_code == 201
    return secret


def test_join_rejoin_show_list(api: Api) -> None:
    secret = router_secret()
    first = api.call("POST", ROUTERS, api.server.bootstrap, json={"name": "join-r1", "secret": secret})
    api.made.append("join-r1")
    assert first.status_code == 201, first.text
    record = first.json()
    assert record == {
        "name": "join-r1",
        "status": "syncing",
        "last_report_at": None,
        "synced_at": None,
        "route_count": 0,
        "missing": 0,
        "unexpected": 0,
        "foreign": 0,
        "last_error": None,
        "applied_revision": None,
        "created_at": record["created_at"],
    }
    again = api.call("POST", ROUTERS, api.server.admin, json={"name": "join-r1", "secret": secret})
    assert again.status_code == 200 and again.json() == record
    assert api.call("GET", f"{ROUTERS}/join-r1", secret).json() == record
    assert record in api.admin("GET", ROUTERS).json()["items"]
    moved = router_secret()  # a re-join with another secret replaces it (the state file was lost)
    assert api.call("POST", ROUTERS, api.server.bootstrap, json={"name": "join-r1", "secret": moved}).status_code == 200
    assert_problem(api.call("GET", f"{ROUTERS}/join-r1", secret), 401, slug="unauthenticated")
    assert api.call("GET", f"{ROUTERS}/join-r1", moved).status_code == 200
    feed = api.admin("GET", "/v1/events", params={"since": 0}).json()["items"]
    joined = [e for e in feed if e["type"] == "router.joined"]
    assert [e["data"] for e in joined if e["data"]["router"] == "join-r1"] == [
        {"router": "join-r1", "rejoined": False},
        {"router": "join-r1", "rejoined": True},
        {"router": "join-r1", "rejoined": True},
    ]


def test_a_stored_bootstrap_token_joins_without_using_itself_up(api: Api) -> None:
    stored = api.admin("POST", "/v1/tokens", json={"max_uses": 1}).json()
    api.join("stored-r1", token=stored["token"])
    api.join("stored-r2", token=stored["token"])
    tokens = api.admin("GET", "/v1/tokens").json()["items"]
    assert next(t for t in tokens if t["id"] == stored["id"])["uses"] == 0


BAD_BODY: dict[str, Any] = {"colour": "blue"}  # never looked at before the credential


def _matrix(api: Api, node_secret: str) -> list[tuple[str, str, str | None, Any, int]]:
    """(method, path, credential, body, expected status) for every endpoint and credential that may not use it."""
    other = api.join("matrix-other")
    api.join("matrix-r1")
    revoked = api.admin("POST", "/v1/tokens", json={}).json()
    api.admin("DELETE", f"/v1/tokens/{revoked['id']}")
    stored = api.admin("POST", "/v1/tokens", json={}).json()["token"]
    boot = api.server.bootstrap
    cases = []
    for cred, status in ((None, 401), ("garbage", 401), (revoked["token"], 401), (node_secret, 403), (other, 403)):
        cases.append(("POST", ROUTERS, cred, BAD_BODY, status))
    for cred, status in ((None, 401), ("garbage", 401), (node_secret, 403), (boot, 403), (stored, 403), (other, 403)):
        cases += [
            ("GET", ROUTERS, cred, None, status),
            ("DELETE", f"{ROUTERS}/matrix-r1", cred, None, status),
            ("DELETE", f"{ROUTERS}/nobody", cred, None, status),
            ("GET", f"{ROUTERS}/matrix-r1", cred, None, status),
            ("GET", f"{ROUTERS}/nobody", cred, None, status),
            ("POST", f"{ROUTERS}/matrix-r1/report", cred, BAD_BODY, status),
            ("POST", f"{ROUTERS}/nobody/report", cred, BAD_BODY, status),
        ]
    return cases


def test_auth_before_validation(api: Api, node_secret: str) -> None:
    for method, path, cred, body, status in _matrix(api, node_secret):
        answer = api.call(method, path, cred, json=body) if body is not None else api.call(method, path, cred)
        assert answer.status_code == status, (method, path, cred, answer.text)
        assert_problem(answer, status, slug="unauthenticated" if status == 401 else "forbidden")
        if status == 401:
            assert answer.headers["www-authenticate"] == "Bearer"
    assert api.admin("GET", f"{ROUTERS}/matrix-r1").status_code == 200  # nothing was deleted


def _join(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"name": "valid-router", "secret": router_secret(), **overrides}
    return {k: v for k, v in values.items() if v is not Ellipsis}


JOIN_CASES = {
    "name upper-case": (_join(name="R1"), "name"),
    "name too long": (_join(name="r" * 64), "name"),
    "name empty": (_join(name=""), "name"),
    "name missing": (_join(name=...), "name"),
    "name not a string": (_join(name=7), "name"),
    "secret too short": (_join(secret="s" * 31), "secret"),
    "secret too long": (_join(secret="s" * 129), "secret"),
    "secret with a space": (_join(secret="s" * 20 + " " + "t" * 20), "secret"),
    "secret missing": (_join(secret=...), "secret"),
    "unknown field": (_join(colour="blue"), "colour"),
}


@pytest.mark.parametrize("case", list(JOIN_CASES))
def test_join_input_is_validated(api: Api, case: str) -> None:
    body, field = JOIN_CASES[case]
    assert_problem(api.call("POST", ROUTERS, api.server.bootstrap, json=body), 422, field, "invalid-input")
    assert api.admin("GET", f"{ROUTERS}/valid-router").status_code == 404


def test_join_body_that_is_not_json(api: Api) -> None:
    answer = api.call("POST", ROUTERS, api.server.bootstrap, content=b"{nope")
    assert_problem(answer, 422, "body", "invalid-input")


def _report(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"revision": 0, "complete": False, "states": [], **overrides}
    return {k: v for k, v in values.items() if v is not Ellipsis}


STATE = {"node": "n", "generation": 1, "state": "programmed", "error": None}
REPORT_CASES = {
    "revision negative": (_report(revision=-1), "revision"),
    "revision a string": (_report(revision="3"), "revision"),
    "revision missing": (_report(revision=...), "revision"),
    "complete a number": (_report(complete=1), "complete"),
    "complete missing": (_report(complete=...), "complete"),
    "route_count a bool": (_report(route_count=True), "route_count"),
    "missing negative": (_report(missing=-1), "missing"),
    "error a number": (_report(error=5), "error"),
    "states not a list": (_report(states={}), "states"),
    "state unknown": (_report(states=[{**STATE, "state": "done"}]), "states.0.state"),
    "state without node": (_report(states=[STATE, {k: v for k, v in STATE.items() if k != "node"}]), "states.1.node"),
    "state generation a string": (_report(states=[{**STATE, "generation": "1"}]), "states.0.generation"),
    "state unknown field": (_report(states=[{**STATE, "extra": 1}]), "states.0.extra"),
    "unknown field": (_report(colour="blue"), "colour"),
}


@pytest.mark.parametrize("case", list(REPORT_CASES))
def test_report_input_is_validated(api: Api, case: str) -> None:
    secret = api.join("valid-report")
    body, field = REPORT_CASES[case]
    assert_problem(api.call("POST", f"{ROUTERS}/valid-report/report", secret, json=body), 422, field, "invalid-input")
    assert api.admin("GET", f"{ROUTERS}/valid-report").json()["last_report_at"] is None  # nothing stored


def test_report_of_70000_states_and_not_one_more(api: Api) -> None:
    secret = api.join("big-report")
    states = [{"node": f"absent-{i}", "generation": 1, "state": "programmed", "error": None} for i in range(70_000)]
    answer = api.call("POST", f"{ROUTERS}/big-report/report", secret, json=_report(states=states))
    assert answer.status_code == 200, answer.text[:500]  # unknown nodes are ignored
    states.append(states[0])
    answer = api.call("POST", f"{ROUTERS}/big-report/report", secret, json=_report(states=states))
    assert_problem(answer, 422, "states", "invalid-input")


def test_an_embedded_backend_refuses_router_agents(databases: Databases, tmp_path: Path) -> None:
    env = {"HUBNET_ROUTE_BACKEND": "fake", "HUBNET_RATE_LIMIT_AUTH_FAILURES_PER_SECOND": "0"}
    server = Server(fresh_db(databases, "sqlite"), tmp_path, extra_env=env)
    with running(server):
        api = Api(server)
        answer = api.call("POST", ROUTERS, server.bootstrap, json=_join(name="r1"))
        assert_problem(answer, 409, slug="embedded-route-backend")
        assert "HUBNET_ROUTE_BACKEND=fake" in answer.json()["detail"]
        assert_problem(api.call("POST", ROUTERS, None, json=_join()), 401)  # the credential still comes first
        assert api.admin("GET", ROUTERS).json() == {"items": []}
        record = api.record(api.node(1, "embedded")["name"])
        assert record["route_states"] == {"embedded": record["route_state"]}


def _states(api: Api, name: str) -> tuple[str, dict[str, str]]:
    record = api.record(name)
    return record["route_state"], record["route_states"]


def test_programmed_only_when_every_up_router_holds_the_route(api: Api) -> None:
    name = api.node(1, "agg")["name"]
    assert _states(api, name)[1] == {}  # agent mode without a router: nothing yet
    r1, r2 = api.join("agg-r1"), api.join("agg-r2")
    assert _states(api, name) == ("pending", {"agg-r1": "pending", "agg-r2": "pending"})
    assert api.report("agg-r1", r1)["status"] == api.report("agg-r2", r2)["status"] == "up"
    api.report("agg-r1", r1, (name, 1, "programmed"))
    assert _states(api, name) == ("pending", {"agg-r1": "programmed", "agg-r2": "pending"})
    api.report("agg-r2", r2, (name, 2, "programmed"))  # another generation: ignored
    assert _states(api, name)[0] == "pending"
    api.report("agg-r2", r2, (name, 1, "programmed"))
    assert _states(api, name) == ("programmed", {"agg-r1": "programmed", "agg-r2": "programmed"})
    api.report("agg-r2", r2, (name, 1, "failed"))
    record = api.record(name)
    assert (record["route_state"], record["route_error"]) == ("failed", "agg-r2: failed")
    listed = api.admin("GET", "/v1/nodes", params={"limit": 1000}).json()["items"]
    assert next(n for n in listed if n["name"] == name)["route_states"] == {"agg-r1": "programmed", "agg-r2": "failed"}
    kinds = [(e["type"], e["node"]) for e in api.admin("GET", "/v1/events", params={"since": 0}).json()["items"]]
    assert [k for k, n in kinds if n == name and k.startswith("route.")] == ["route.programmed", "route.failed"]
    assert api.admin("DELETE", f"{ROUTERS}/agg-r2").status_code == 204  # deleting it recomputes without it
    assert _states(api, name) == ("programmed", {"agg-r1": "programmed"})
    assert_problem(api.admin("DELETE", f"{ROUTERS}/agg-r2"), 404, "name", "not-found")
    assert_problem(api.admin("GET", f"{ROUTERS}/agg-r2"), 404, "name", "not-found")


def test_the_report_is_stored_on_the_router(api: Api) -> None:
    secret = api.join("counters-r1")
    body = {"revision": 42, "complete": False, "route_count": 7, "missing": 1, "unexpected": 2, "foreign": 3}
    answer = api.call("POST", f"{ROUTERS}/counters-r1/report", secret, json={**body, "error": "netlink: busy"})
    record = answer.json()
    assert {k: record[k] for k in ("route_count", "missing", "unexpected", "foreign")} == {
        "route_count": 7,
        "missing": 1,
        "unexpected": 2,
        "foreign": 3,
    }
    assert (record["applied_revision"], record["last_error"], record["status"]) == (42, "netlink: busy", "syncing")
    assert record["last_report_at"] is not None and record["synced_at"] is None


@pytest.fixture(scope="module", params=DB_KINDS)
def quick(
    request: pytest.FixtureRequest, databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """Routers go down after 3 s of silence; the reaper looks every 0.2 s."""
    log_dir = Path(tmp_path_factory.mktemp("quick"))
    env = {"HUBNET_ROUTER_DOWN_SECONDS": "3", "HUBNET_REAPER_INTERVAL_SECONDS": "0.2"}
    with agent_servers(databases, str(request.param), log_dir, **env) as srv:
        yield srv


def test_a_silent_router_goes_down_and_coming_back_flips_nothing(quick: Server) -> None:
    api = Api(quick)
    first, second = api.node(1, "down")["name"], api.node(2, "down")["name"]
    r1, r2 = api.join("down-r1"), api.join("down-r2")
    assert api.report("down-r1", r1)["status"] == api.report("down-r2", r2)["status"] == "up"  # nothing ready yet
    api.report("down-r1", r1, (first, 1, "programmed"), (second, 1, "programmed"))
    api.report("down-r2", r2, (first, 1, "programmed"))
    assert _states(api, first)[0] == "programmed" and _states(api, second)[0] == "pending"

    def r1_keeps_reporting() -> bool:
        api.report("down-r1", r1)
        return api.admin("GET", f"{ROUTERS}/down-r2").json()["status"] == "down"

    wait_for(r1_keeps_reporting, timeout=15, step=0.3)  # r2 is silent: down after 3 s (+ one reaper pass)
    assert _states(api, second) == ("programmed", {"down-r1": "programmed", "down-r2": "pending"})
    third = api.node(3, "down")["name"]
    api.report("down-r1", r1, (third, 1, "programmed"))
    assert _states(api, third)[0] == "programmed"  # only r1 counts now

    # r2 comes back, complete as far as it knows, but it lacks routes of nodes that are ready: syncing, not counted
    back = api.report("down-r2", r2, complete=True)
    assert back["status"] == "syncing" and back["synced_at"] is None
    assert [_states(api, n)[0] for n in (first, second, third)] == ["programmed"] * 3
    back = api.report("down-r2", r2, (second, 1, "programmed"), (third, 1, "programmed"))
    assert back["status"] == "up" and back["synced_at"] is not None
    assert [_states(api, n)[0] for n in (first, second, third)] == ["programmed"] * 3
    events = api.admin("GET", "/v1/events", params={"since": 0}).json()["items"]
    mine = [e["type"] for e in events if e["data"].get("router") == "down-r2" and e["type"] != "router.joined"]
    assert mine == ["router.up", "router.down", "router.syncing", "router.up"]
    wait_for(lambda: api.admin("GET", f"{ROUTERS}/down-r1").json()["status"] == "down", timeout=15)
    # both down: nothing holds a node's readiness any more, and the record says why
    record = wait_for(lambda: (r := api.record(first))["route_state"] == "pending" and r, timeout=15)
    assert record["route_error"] == "no router agent is up"


def test_a_report_about_the_routes_before_a_move_does_not_make_the_node_ready(api: Api) -> None:
    """A router reads the feed (revision R), the node re-joins from another address (its route moves, same
    generation), then the router's report computed from the table at R arrives: the router holds the old route, so
    the node must stay pending until a report about a table that has the move."""
    body = node_body(1, prefix="stale-report")
    name = body["name"]
    assert api.call("POST", "/v1/nodes", api.server.bootstrap, json=body).status_code == 201
    secret = api.join("stale-r1")
    before = api.revision()  # the router's feed read: the route via the old address
    assert api.report("stale-r1", secret, revision=before)["status"] == "up"
    moved = {**body, "address": node_body(2, prefix="stale-report")["address"]}
    assert api.call("POST", "/v1/nodes", api.server.bootstrap, json=moved).status_code == 200
    assert _states(api, name) == ("pending", {"stale-r1": "pending"})
    api.report("stale-r1", secret, (name, 1, "programmed"), revision=before)  # about the route via the old address
    assert _states(api, name) == ("pending", {"stale-r1": "pending"})
    api.report("stale-r1", secret, (name, 1, "programmed"), revision=api.revision())  # read after the move
    assert _states(api, name) == ("programmed", {"stale-r1": "programmed"})


def test_routers_are_not_taken_down_by_a_controller_that_just_started(databases: Databases, tmp_path: Path) -> None:
    """Every controller was down for longer than HUBNET_ROUTER_DOWN_SECONDS: no router could report meanwhile. The
    first reaper pass of a restarted controller must not take them all down (every ready node would turn pending
    until the routers report again); a router that stays silent still goes down once the timeout has passed."""
    env = {"HUBNET_ROUTER_DOWN_SECONDS": "5", "HUBNET_REAPER_INTERVAL_SECONDS": "0.2"}
    server = agent_server(fresh_db(databases, "sqlite"), tmp_path, **env)
    with running(server):
        api = Api(server)
        name = api.node(1, "restart")["name"]
        secret = api.join("restart-r1")
        api.report("restart-r1", secret, (name, 1, "programmed"))
        assert _states(api, name)[0] == "programmed"
        server.stop()
        time.sleep(5.5)  # longer than the timeout, no controller running
        server.start()
        time.sleep(0.5)  # several reaper passes
        assert api.admin("GET", f"{ROUTERS}/restart-r1").json()["status"] == "up"
        assert _states(api, name)[0] == "programmed"
        wait_for(lambda: api.admin("GET", f"{ROUTERS}/restart-r1").json()["status"] == "down", timeout=10)
