"""`/v1/bgp/peers` against the real app on SQLite and PostgreSQL: add / show / list / delete with any spelling of
an address, bad input → 422 naming the field and nothing written, a duplicate → 409 naming `address` (also when
two controller processes race), admin only with the credential checked before the body, the live status port, the
`bgp_peers` commit kind, and the password never returned nor logged."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from hubnet.server.app import create_app
from hubnet.server.db.migrate import upgrade
from hubnet.server.services.context import Controller
from hubnet.server.services.ports import Commit
from hubnet.server.settings import Settings
from tests.integration.conftest import DB_KINDS, fresh_db
from tests.integration.support import Databases, Server, new_secret, running, sql

ADMIN, BOOT = "adm-bgp-peers", "boot-bgp-peers"
SECRET = "Md5 key: not-for-logs-7c1e"
PEERS = "/v1/bgp/peers"
PROBLEM = "application/problem+json"


@dataclass
class App:
    client: TestClient
    ctl: Controller
    url: str
    node: str  # a registered node's secret
    stored: str  # a bootstrap token created over the API

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        answer: httpx.Response = self.client.request(
            method, path, headers={"Authorization": f"Bearer {ADMIN}"}, **kwargs
        )
        return answer

    def table(self) -> tuple[list[tuple[Any, ...]], int]:
        """Every stored peer row and the event revision: both unchanged after a refused request."""
        rows = sql(self.url, "SELECT * FROM bgp_peers ORDER BY id")
        return rows, self.admin("GET", "/v1/events", params={"since": 0, "limit": 1}).json()["revision"]


@pytest.fixture(scope="module", params=DB_KINDS)
def app(
    request: pytest.FixtureRequest, databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[App]:
    """The app as `hubnet server` builds it (in process, so the test can reach its controller and its logs)."""
    url = fresh_db(databases, str(request.param))
    upgrade(url)
    settings = Settings(
        database_url=url,
        state_dir=tmp_path_factory.mktemp("bgp"),
        admin_tokens=(ADMIN,),
        bootstrap_tokens=(BOOT,),
        route_backend="none",
        rate_limit_auth_failures_per_second=0,  # the auth matrix fails on purpose, many times, from one address
    )
    with TestClient(create_app(settings, background=False)) as client:
        ctl: Controller = client.app.state.controller  # type: ignore[attr-defined]
        secret = new_secret()
        registered = client.post(
            "/v1/nodes",
            json={"name": "bgp-node", "address": "172.30.0.1", "secret": secret},
            headers={"Authorization": f"Bearer {BOOT}"},
        )
        assert registered.status_code == 201, registered.text
        stored = client.post("/v1/tokens", json={}, headers={"Authorization": f"Bearer {ADMIN}"}).json()["token"]
        yield App(client, ctl, url, secret, stored)


def _problem(response: httpx.Response, status: int, field: str | None, slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    if field is not None:
        assert [e["field"] for e in body["errors"]] == [field], body
    if slug is not None:
        assert body["type"] == f"urn:hubnet:problem:{slug}", body
    return body


def test_add_show_list_delete_with_any_spelling(app: App) -> None:
    body = {"address": "FD00:10::0001", "asn": 65010, "password": SECRET, "multihop": 2, "description": "tor-1"}
    created = app.admin("POST", PEERS, json=body)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{PEERS}/fd00:10::1"
    peer = created.json()
    assert "password" not in peer and peer["password_set"] is True
    assert {k: peer[k] for k in ("address", "asn", "multihop", "description")} == {
        "address": "fd00:10::1",
        "asn": 65010,
        "multihop": 2,
        "description": "tor-1",
    }
    assert (peer["state"], peer["prefixes_sent"], peer["prefixes_accepted"]) == ("unknown", 0, 0)
    assert peer["last_error"] == "the bgp route backend is not enabled (HUBNET_ROUTE_BACKEND)"

    assert app.admin("GET", created.headers["location"]).json() == peer
    assert app.admin("GET", f"{PEERS}/FD00:10:0::1").json() == peer
    assert peer in app.admin("GET", PEERS).json()["items"]
    assert sql(app.url, "SELECT password FROM bgp_peers WHERE address = 'fd00:10::1'") == [(SECRET,)]  # the speaker's

    assert app.admin("DELETE", f"{PEERS}/FD00:10::1").status_code == 204
    _problem(app.admin("GET", f"{PEERS}/fd00:10::1"), 404, "address", "not-found")
    _problem(app.admin("DELETE", f"{PEERS}/fd00:10::1"), 404, "address", "not-found")
    assert peer["address"] not in [p["address"] for p in app.admin("GET", PEERS).json()["items"]]
    feed = app.admin("GET", "/v1/events", params={"since": 0}).json()["items"]
    mine = [(e["type"], e["data"]["change"]) for e in feed if e["data"].get("address") == "fd00:10::1"]
    assert mine == [("bgp_peers", "added"), ("bgp_peers", "deleted")]


def test_link_local_peer_with_its_interface(app: App) -> None:
    created = app.admin("POST", PEERS, json={"address": "FE80::5%eth1", "asn": 65011})
    assert created.status_code == 201, created.text
    assert created.json()["address"] == "fe80::5%eth1" and created.headers["location"] == f"{PEERS}/fe80::5%25eth1"
    assert app.admin("GET", created.headers["location"]).json()["address"] == "fe80::5%eth1"
    assert app.admin("DELETE", f"{PEERS}/fe80::5%25eth1").status_code == 204


def _body(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"address": "192.168.50.1", "asn": 65020, **overrides}
    return {k: v for k, v in values.items() if v is not Ellipsis}


BAD = {
    "address garbage": (_body(address="router-1"), "address"),
    "address missing": (_body(address=...), "address"),
    "address loopback": (_body(address="127.0.0.1"), "address"),
    "address v6 loopback": (_body(address="::1"), "address"),
    "address unspecified": (_body(address="0.0.0.0"), "address"),
    "address v6 unspecified": (_body(address="::"), "address"),
    "address multicast": (_body(address="224.0.0.5"), "address"),
    "address v6 multicast": (_body(address="ff02::5"), "address"),
    "address link-local without zone": (_body(address="fe80::5"), "address"),
    "address a number": (_body(address=192), "address"),
    "asn zero": (_body(asn=0), "asn"),
    "asn above 4294967295": (_body(asn=4294967296), "asn"),
    "asn negative": (_body(asn=-65020), "asn"),
    "asn boolean": (_body(asn=True), "asn"),
    "asn string": (_body(asn="65020"), "asn"),
    "asn missing": (_body(asn=...), "asn"),
    "password empty": (_body(password=""), "password"),
    "password 81 characters": (_body(password="p" * 81), "password"),
    "password non-printable": (_body(password="abc\x01def"), "password"),
    "password non-ascii": (_body(password="Kennwört"), "password"),
    "password not a string": (_body(password=1234), "password"),
    "multihop zero": (_body(multihop=0), "multihop"),
    "multihop 256": (_body(multihop=256), "multihop"),
    "multihop boolean": (_body(multihop=True), "multihop"),
    "description 201 characters": (_body(description="d" * 201), "description"),
    "description NUL": (_body(description="a\x00b"), "description"),
    "unknown field": (_body(hold_time=90), "hold_time"),
    "not an object": ([_body()], "body"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_422_naming_the_field_and_writes_nothing(app: App, case: str) -> None:
    body, field = BAD[case]
    before = app.table()
    _problem(app.admin("POST", PEERS, json=body), 422, field, "invalid-input")
    assert app.table() == before


@pytest.mark.parametrize("raw", [b"", b"{", b'{"address": "192.168.50.1", "asn": 1', b"\xff\xfe", b"null"])
def test_a_body_that_is_no_json_object_is_422_naming_body(app: App, raw: bytes) -> None:
    before = app.table()
    _problem(app.admin("POST", PEERS, content=raw), 422, "body", "invalid-input")
    assert app.table() == before


def test_a_bad_path_address_is_422_naming_address(app: App) -> None:
    _problem(app.admin("GET", f"{PEERS}/not-an-address"), 422, "address", "invalid-input")
    _problem(app.admin("DELETE", f"{PEERS}/192.168.1.1%25eth0"), 422, "address", "invalid-input")


def test_duplicate_address_is_409_naming_address(app: App) -> None:
    assert app.admin("POST", PEERS, json=_body(address="fd00:20::1")).status_code == 201
    before = app.table()
    for spelling in ("fd00:20::1", "FD00:20:0:0::1", "fd00:0020::0001"):
        body = _problem(app.admin("POST", PEERS, json=_body(address=spelling, asn=1)), 409, "address", "peer-exists")
        assert "fd00:20::1" in body["detail"]
    assert app.table() == before
    assert app.admin("DELETE", f"{PEERS}/fd00:20::1").status_code == 204


CREDENTIALS = {"nobody": 401, "unknown": 401, "not-bearer": 401, "bootstrap": 403, "stored-bootstrap": 403, "node": 403}


def _headers(app: App, who: str) -> dict[str, str]:
    value = {
        "nobody": None,
        "unknown": "Bearer " + new_secret(),
        "not-bearer": f"Basic {ADMIN}",
        "bootstrap": f"Bearer {BOOT}",
        "stored-bootstrap": f"Bearer {app.stored}",
        "node": f"Bearer {app.node}",
    }[who]
    return {"Authorization": value} if value else {}


@pytest.mark.parametrize("who", list(CREDENTIALS))
def test_only_admins_and_the_credential_is_checked_before_the_body(app: App, who: str) -> None:
    assert app.admin("POST", PEERS, json=_body(address="192.168.60.1")).status_code == 201
    before = app.table()
    headers, status = _headers(app, who), CREDENTIALS[who]
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", PEERS, {"json": _body(address="192.168.60.2")}),  # valid: would be 201
        ("POST", PEERS, {"json": _body(address="127.0.0.1", asn=0, extra=1)}),  # invalid: would be 422
        ("POST", PEERS, {"content": b"{not json"}),  # malformed: would be 422
        ("POST", PEERS, {"json": _body(address="192.168.60.1")}),  # duplicate: would be 409
        ("GET", PEERS, {}),
        ("GET", f"{PEERS}/192.168.60.1", {}),
        ("GET", f"{PEERS}/not-an-address", {}),  # would be 422
        ("DELETE", f"{PEERS}/192.168.60.1", {}),
        ("DELETE", f"{PEERS}/not-an-address", {}),
    ]
    for method, path, kwargs in requests:
        answer = app.client.request(method, path, headers=headers, **kwargs)
        _problem(answer, status, None, "unauthenticated" if status == 401 else "forbidden")
        assert SECRET not in answer.text
    assert app.table() == before
    assert app.admin("DELETE", f"{PEERS}/192.168.60.1").status_code == 204


@dataclass(frozen=True)
class Status:
    address: str
    state: str
    uptime_seconds: float | None
    prefixes_sent: int
    prefixes_accepted: int
    last_error: str | None
    families: tuple[str, ...] = ()
    graceful_restart: bool = False


class Speaker:
    def __init__(self, *statuses: Status) -> None:
        self.statuses = list(statuses)

    def peers(self) -> list[Status]:
        return self.statuses


def test_live_status_comes_from_the_speaker(app: App) -> None:
    for address in ("192.168.70.1", "192.168.70.2"):
        assert app.admin("POST", PEERS, json=_body(address=address)).status_code == 201
    wrong_key = "no TCP session: check the MD5 password on both sides"
    app.ctl.bgp_status = Speaker(
        Status("192.168.70.1", "established", 42.0, 50, 0, None, ("ipv4-unicast", "ipv6-unicast"), True),
        Status("192.168.70.2", "active", None, 0, 0, wrong_key),
    )
    try:
        items = {p["address"]: p for p in app.admin("GET", PEERS).json()["items"]}
        up, down = items["192.168.70.1"], items["192.168.70.2"]
        assert (up["state"], up["uptime_seconds"], up["prefixes_sent"], up["last_error"]) == (
            "established",
            42,
            50,
            None,
        )
        assert up["families"] == ["ipv4-unicast", "ipv6-unicast"] and up["graceful_restart"] is True
        assert (down["state"], down["uptime_seconds"], down["last_error"]) == ("active", None, wrong_key)
        assert app.admin("GET", f"{PEERS}/192.168.70.2").json() == down
    finally:
        app.ctl.bgp_status = None
    for address in ("192.168.70.1", "192.168.70.2"):
        assert app.admin("DELETE", f"{PEERS}/{address}").status_code == 204


def test_every_peer_change_commits_the_bgp_peers_kind(app: App) -> None:
    commits: list[Commit] = []
    app.ctl.db.after_commit.append(commits.append)
    try:
        assert app.admin("POST", PEERS, json=_body(address="192.168.80.1")).status_code == 201
        assert app.admin("POST", PEERS, json=_body(address="192.168.80.1")).status_code == 409
        assert app.admin("POST", PEERS, json=_body(address="192.168.80.2", asn=0)).status_code == 422
        assert app.admin("DELETE", f"{PEERS}/192.168.80.1").status_code == 204
        assert app.admin("DELETE", f"{PEERS}/192.168.80.1").status_code == 404
    finally:
        app.ctl.db.after_commit.remove(commits.append)
    assert [c.kinds for c in commits] == [frozenset({"bgp_peers"})] * 2  # one per change, none for a refusal


def test_the_password_is_never_returned_nor_logged(app: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level
    answers = [
        app.admin("POST", PEERS, json=_body(address="192.168.90.1", password=SECRET)),
        app.admin("GET", PEERS),
        app.admin("GET", f"{PEERS}/192.168.90.1"),
        app.admin("POST", PEERS, json=_body(address="192.168.90.1", password=SECRET)),  # 409
        app.admin("POST", PEERS, json=_body(address="192.168.90.2", password=SECRET + "\x07")),  # 422
        app.admin("POST", PEERS, json=_body(address="192.168.90.2", passwort=SECRET)),  # 422, a mistyped name
        app.admin("POST", PEERS, content=b'{"password": "' + SECRET.encode() + b'"'),  # 422, malformed
        app.admin("GET", "/v1/events", params={"since": 0, "limit": 1000}),
        app.admin("DELETE", f"{PEERS}/192.168.90.1"),
    ]
    assert [a.status_code for a in answers] == [201, 200, 200, 409, 422, 422, 422, 200, 204]
    assert all(SECRET not in a.text for a in answers)
    assert answers[0].json()["password_set"] is True
    assert caplog.records and SECRET not in caplog.text
    assert not [r for r in caplog.records if SECRET in repr(r.args) or SECRET in str(r.msg)]


def test_openapi_documents_the_endpoints(app: App) -> None:
    document = app.client.get("/openapi.json").json()
    paths = document["paths"]
    assert set(paths[PEERS]) == {"get", "post"} and set(paths[PEERS + "/{address}"]) == {"get", "delete"}
    post = paths[PEERS]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert schema["additionalProperties"] is False and set(schema["required"]) == {"address", "asn"}
    assert schema["properties"]["asn"]["maximum"] == 4294967295
    assert {"201", "401", "403", "409", "422"} <= set(post["responses"])
    assert {"204", "401", "403", "404"} <= set(paths[PEERS + "/{address}"]["delete"]["responses"])


@pytest.mark.timeout(120)
def test_two_processes_adding_one_address_store_it_once(
    databases: Databases, db_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """20 adds of one address (in several spellings) race through two controller processes on one database: the
    unique index lets exactly one through; every other answer is 409 naming `address`."""
    url = fresh_db(databases, db_kind)
    first = Server(url, Path(tmp_path_factory.mktemp("bgp-a")))
    second = Server(url, Path(tmp_path_factory.mktemp("bgp-b")), admin=first.admin, bootstrap=first.bootstrap)
    spellings = ["fd00:99::1", "FD00:99::1", "fd00:99:0::1", "fd00:0099::0001"]
    with running(first), running(second):

        def add(i: int) -> httpx.Response:
            with (first, second)[i % 2].client(first.admin) as client:
                return client.post(PEERS, json={"address": spellings[i % 4], "asn": 65000 + i, "password": SECRET})

        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(add, range(20)))
        listed = []
        for server in (first, second):  # both processes see the one peer
            with server.client(first.admin) as client:
                listed.append(client.get(PEERS).json()["items"])
    codes = [a.status_code for a in answers]
    assert codes.count(201) == 1 and codes.count(409) == 19, codes
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["errors"][0]["field"] == "address" and "peer-exists" in answer.json()["type"]
    assert [len(items) for items in listed] == [1, 1] and listed[0][0]["address"] == "fd00:99::1"
    assert sql(url, "SELECT count(*) FROM bgp_peers") == [(1,)]
    assert SECRET not in first.log_tail() + second.log_tail()
    assert json.dumps(listed).count("password_set") == 2 and SECRET not in json.dumps(listed)
