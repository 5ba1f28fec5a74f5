"""`GET /v1/routes?since=&wait=`, the desired-route feed of the router agents, against real `hubnet server`
processes on SQLite and PostgreSQL: full and delta answers, a release giving `routes: []`, the long-poll waking
within 1 s of a registration (also one committed by ANOTHER controller process on the same PostgreSQL), the
5,000-event cap and a pruned log answering in full, the credential before the query, and the drift report kept for
`GET /v1/routes` without `since`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.integration.agents import Api, agent_server, agent_servers, assert_problem
from tests.integration.conftest import DB_KINDS, fresh_db
from tests.integration.support import Databases, Server, new_secret, node_body, running, sql

FEED = "/v1/routes"


@pytest.fixture(scope="module", params=DB_KINDS)
def server(
    request: pytest.FixtureRequest, databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log_dir = Path(tmp_path_factory.mktemp("feed"))
    with agent_servers(databases, str(request.param), log_dir, HUBNET_ROUTER_DOWN_SECONDS="600") as srv:
        yield srv


@pytest.fixture(scope="module")
def router(server: Server) -> Iterator[tuple[Api, str]]:
    """A joined router agent (its secret reads the feed)."""
    api = Api(server)
    secret = api.join("feed-reader")
    yield api, secret
    api.cleanup()


def feed(api: Api, secret: str, **params: Any) -> dict[str, Any]:
    answer = api.call("GET", FEED, secret, params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == {"revision", "full", "entries"}
    return body


def entry(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "node": record["name"],
        "generation": record["generation"],
        "routes": [{"prefix": record["subnet"], "next_hop": record["address"]}],
    }


def test_full_then_delta_then_a_release(router: tuple[Api, str]) -> None:
    api, secret = router
    a, b = api.node(1, "feed"), api.node(2, "feed")
    full = feed(api, secret, since=0)
    assert full["full"] is True and full["revision"] == api.revision()
    assert entry(a) in full["entries"] and entry(b) in full["entries"]
    names = [e["node"] for e in full["entries"]]
    assert names == sorted(names)
    assert feed(api, secret, since=full["revision"]) == {"revision": full["revision"], "full": False, "entries": []}

    c = api.node(3, "feed")
    assert api.admin("DELETE", f"/v1/nodes/{a['name']}").status_code == 204
    delta = feed(api, secret, since=full["revision"])
    assert delta["full"] is False and delta["revision"] > full["revision"]
    assert delta["entries"] == sorted(
        [{"node": a["name"], "generation": 1, "routes": []}, entry(c)], key=lambda e: str(e["node"])
    )
    again = feed(api, secret, since=0)
    assert a["name"] not in [e["node"] for e in again["entries"]]  # a full table holds live nodes only
    # a re-join from another address moves the route: the node is in the next delta with its new next hop
    moved = api.call(
        "POST", "/v1/nodes", api.server.bootstrap, json={**node_body(4, prefix="feed-moved"), "secret": "s" * 43}
    ).json()
    since = api.revision()
    body = {"name": moved["name"], "address": "172.31.250.1", "secret": "s" * 43}
    assert api.call("POST", "/v1/nodes", api.server.bootstrap, json=body).status_code == 200
    assert feed(api, secret, since=since)["entries"] == [
        {"node": moved["name"], "generation": 1, "routes": [{"prefix": moved["subnet"], "next_hop": "172.31.250.1"}]}
    ]


def test_a_revision_ahead_of_the_log_answers_in_full(router: tuple[Api, str]) -> None:
    api, secret = router
    assert feed(api, secret, since=api.revision() + 1000)["full"] is True


def _long_poll(api: Api, secret: str, since: int, wait: float) -> tuple[dict[str, Any], float]:
    answer = api.call("GET", FEED, secret, params={"since": since, "wait": wait})
    assert answer.status_code == 200, answer.text
    return answer.json(), time.monotonic()


def _wakes_on(poller: Api, registrar: Api, secret: str, prefix: str) -> float:
    """Seconds from a registration's reply (on `registrar`) to the reply of a long-poll already waiting on
    `poller`; the long-poll's answer names the new node."""
    since = poller.revision()
    with ThreadPoolExecutor(1) as pool:
        waiting: Future[tuple[dict[str, Any], float]] = pool.submit(_long_poll, poller, secret, since, 20)
        time.sleep(0.5)  # the long-poll is waiting by now
        assert not waiting.done()
        record = registrar.node(1, prefix)
        registered = time.monotonic()
        body, answered = waiting.result(timeout=30)
    assert body["full"] is False and entry(record) in body["entries"], body
    return answered - registered


def test_the_long_poll_wakes_within_a_second_of_a_registration(router: tuple[Api, str]) -> None:
    api, secret = router
    delays = [_wakes_on(api, api, secret, f"wake-{i}") for i in range(3)]
    assert max(delays) < 1.0, delays


def test_the_long_poll_ends_empty_at_its_deadline(router: tuple[Api, str]) -> None:
    api, secret = router
    since = api.revision()
    api.report("feed-reader", secret)  # events that move no route (a router's status) do not end the wait
    started = time.monotonic()
    body, _ = _long_poll(api, secret, since, 1.0)
    assert 0.9 <= time.monotonic() - started < 5
    assert body["entries"] == [] and body["full"] is False and body["revision"] >= since


def test_more_than_5000_route_events_behind_answers_in_full(router: tuple[Api, str]) -> None:
    api, secret = router
    since = api.revision()
    _append_events(api.server.db_url, since, 5001, "node.registered")
    assert feed(api, secret, since=since)["full"] is True
    assert feed(api, secret, since=since + 1)["full"] is False  # 5,000 is still a delta (of unknown names)
    assert feed(api, secret, since=since + 1)["entries"][0] == {"node": "ghost", "generation": 0, "routes": []}


def test_a_revision_older_than_the_events_kept_answers_in_full(
    databases: Databases, db_kind: str, tmp_path: Path
) -> None:
    server = agent_server(fresh_db(databases, db_kind), tmp_path)
    with running(server):
        api = Api(server)
        secret = api.join("pruned-reader")
        api.node(1, "pruned")
        since = api.revision()
        api.node(2, "pruned")
        assert feed(api, secret, since=since)["full"] is False
        sql(server.db_url, "DELETE FROM events WHERE revision <= :r", {"r": since + 1})  # an operator pruned it
        assert feed(api, secret, since=since)["full"] is True
        assert feed(api, secret, since=since + 1)["full"] is False


def _append_events(url: str, after: int, count: int, kind: str) -> None:
    """Append `count` events of `kind` (node 'ghost') after revision `after`, as the controller would."""
    rows = [{"r": after + 1 + i, "k": kind} for i in range(count)]
    from sqlalchemy import create_engine, pool, text

    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE revision_counter SET value = value + :n WHERE id = 1"), {"n": count})
            conn.execute(
                text("INSERT INTO events (revision, created_at, type, node, data) VALUES (:r, 0, :k, 'ghost', '{}')"),
                rows,
            )
    finally:
        engine.dispose()


def test_credentials_before_the_query(router: tuple[Api, str]) -> None:
    api, secret = router
    node_secret = new_secret()
    body = {**node_body(9, prefix="feed-auth"), "secret": node_secret}
    assert api.call("POST", "/v1/nodes", api.server.bootstrap, json=body).status_code == 201
    stored = api.admin("POST", "/v1/tokens", json={}).json()["token"]
    bad = {"since": -1, "wait": 61}
    for cred, status in ((None, 401), ("garbage", 401), (node_secret, 403), (api.server.bootstrap, 403), (stored, 403)):
        for params in (bad, {"since": 0}):
            assert_problem(api.call("GET", FEED, cred, params=params), status)
    for params, field in (({"since": -1}, "since"), ({"since": 0, "wait": 61}, "wait"), ({"since": "x"}, "since")):
        assert_problem(api.call("GET", FEED, secret, params=params), 422, field, "invalid-input")
    assert feed(api, api.server.admin, since=0)["full"] is True  # an admin reads it too


def test_without_since_it_is_the_drift_report(router: tuple[Api, str]) -> None:
    api, secret = router
    report = api.admin("GET", FEED).json()
    assert report["backend"] == "none" and {"desired", "actual", "missing", "unexpected", "foreign"} <= set(report)
    # a router agent may read it too (it holds the desired routes anyway: the OpenAPI document declares both)
    assert api.call("GET", FEED, secret).json()["desired"] == report["desired"]
    assert_problem(api.call("GET", FEED, api.server.bootstrap), 403, slug="forbidden")


@pytest.mark.postgres
def test_two_controllers_a_registration_on_one_wakes_a_long_poll_on_the_other(
    databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> None:
    url = fresh_db(databases, "postgres")
    a = agent_server(url, Path(tmp_path_factory.mktemp("ctl-a")))
    b = agent_server(url, Path(tmp_path_factory.mktemp("ctl-b")))
    b.admin, b.bootstrap = a.admin, a.bootstrap  # one cluster: the same tokens on both
    with running(a), running(b):
        on_a, on_b = Api(a), Api(b)
        secret = on_a.join("two-ctl-reader")  # joined through A, reads through B: one database
        delays = [_wakes_on(on_b, on_a, secret, f"two-ctl-{i}") for i in range(5)]
        assert max(delays) < 1.0, delays
        on_b.made.append("two-ctl-reader")
        on_b.cleanup()


def test_long_polls_of_many_routers_all_wake(router: tuple[Api, str]) -> None:
    api, secret = router
    since = api.revision()
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def poll() -> None:
        body, _ = _long_poll(api, secret, since, 15)
        with lock:
            results.append(body)

    threads = [threading.Thread(target=poll) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    record = api.node(1, "many")
    for thread in threads:
        thread.join(30)
    assert len(results) == 8 and all(entry(record) in r["entries"] for r in results)
