"""Hypothesis fuzzing of `POST /v1/nodes` on a live controller: any body (JSON of any shape, near-valid fields,
raw bytes) gets an answer a client can act on: 200/201 with a sound record, or a 4xx problem+json naming the
field. Never a 5xx, never a subnet outside the pool or a gateway outside the subnet."""

from __future__ import annotations

import json
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import fresh_db
from tests.integration.support import Databases, Server, new_secret, running

POOL = IPv4Network("10.244.0.0/16")
FIELDS = {"name", "address", "secret", "machine_id", "body"}

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
)
names = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True) | st.text(max_size=70)
addresses = st.ip_addresses(v=4).map(str) | st.sampled_from(["10.244.1.1", "127.0.0.1", "0.1.2.3", "1.2.3"])
secrets = st.builds(new_secret) | st.text(max_size=80) | st.text(alphabet="ab-_", min_size=43, max_size=600)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "name": names | json_values,
        "address": addresses | json_values,
        "secret": secrets | json_values,
        "machine_id": st.text(max_size=300) | json_values,
    },
).flatmap(lambda body: st.dictionaries(st.text(max_size=6), json_values, max_size=2).map(lambda x: {**x, **body}))


@pytest.fixture(scope="module")
def target(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    server = Server(fresh_db(databases, "sqlite"), Path(tmp_path_factory.mktemp("fuzz")))
    with running(server) as srv, srv.client(srv.bootstrap) as client:
        yield client


def _assert_actionable(answer: httpx.Response, sent: Any) -> None:
    assert answer.status_code < 500, answer.text
    if answer.status_code in (200, 201):
        record = answer.json()
        assert isinstance(sent, dict) and record["name"] == sent["name"]
        subnet = IPv4Network(record["subnet"])
        assert subnet.subnet_of(POOL) and IPv4Address(record["gateway"]) in subnet
        return
    assert answer.status_code in (409, 413, 422), answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == answer.status_code and problem["detail"] and problem["type"].startswith("urn:")
    if answer.status_code == 422:
        assert problem["errors"] and all(e["field"] and e["message"] for e in problem["errors"])
        known = FIELDS | (set(sent) if isinstance(sent, dict) else set())
        assert all(e["field"] in known or e["field"].split(".")[0] in known for e in problem["errors"]), problem


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies | json_values)
def test_any_json_body(target: httpx.Client, body: Any) -> None:
    _assert_actionable(target.post("/v1/nodes", json=body), body)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300) | st.text(max_size=100).map(str.encode))
def test_any_raw_body(target: httpx.Client, raw: bytes) -> None:
    answer = target.post("/v1/nodes", content=raw, headers={"content-type": "application/json"})
    try:
        sent = json.loads(raw)
    except ValueError:
        sent = None
    _assert_actionable(answer, sent)
