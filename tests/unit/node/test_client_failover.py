"""ControllerClient over several controllers (hubnet/node/agent/client.py): a request none answers goes to the next
at once, each controller once; the one that answered is remembered; real answers are never failed over."""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable

import httpx
import pytest

from hubnet.node.agent.client import ControllerClient, ControllerError, Unreachable, UntrustedController
from tests.support.records import node_json

Behaviour = Callable[[httpx.Request], httpx.Response]
URLS = ["http://c1:6780", "http://c2:6780", "http://c3:6780"]


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def untrusted(request: httpx.Request) -> httpx.Response:
    try:
        raise ssl.SSLCertVerificationError(1, "certificate verify failed: unable to get local issuer certificate")
    except ssl.SSLError as exc:
        raise httpx.ConnectError("TLS", request=request) from exc


def status(code: int) -> Behaviour:
    def answer(request: httpx.Request) -> httpx.Response:
        body = {"type": "urn:hubnet:problem:x", "title": "t", "detail": f"status {code}"}
        return httpx.Response(code, json=body)

    return answer


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=node_json(name="n1"))


class Cluster:
    """Per controller host a behaviour; every request is recorded as (host, method, path)."""

    def __init__(self, **hosts: Behaviour) -> None:
        self.hosts = hosts
        self.seen: list[tuple[str, str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.url.host, request.method, request.url.path))
        return self.hosts[request.url.host](request)

    def client(self, urls: list[str] | str = URLS) -> ControllerClient:
        return ControllerClient(urls, transport=httpx.MockTransport(self))

    def hosts_seen(self) -> list[str]:
        return [host for host, _, _ in self.seen]


@pytest.mark.parametrize(
    "failure",
    [refused, status(502), status(503), status(504)],
    ids=["unreachable", "502", "503", "504"],
)
def test_a_controller_that_does_not_answer_is_skipped_at_once(failure: Behaviour) -> None:
    cluster = Cluster(c1=failure, c2=ok, c3=ok)
    client = cluster.client()
    started = time.monotonic()
    record = client.heartbeat(name="n1", secret="s" * 64)
    assert time.monotonic() - started < 0.5  # no back-off between two controllers
    assert record.name == "n1"
    assert cluster.seen == [("c1", "POST", "/v1/nodes/n1/heartbeat"), ("c2", "POST", "/v1/nodes/n1/heartbeat")]
    assert client.base_url == "http://c2:6780"


def test_the_controller_that_answered_is_tried_first_next_time() -> None:
    cluster = Cluster(c1=refused, c2=ok, c3=ok)
    client = cluster.client()
    client.heartbeat(name="n1", secret="s")
    client.heartbeat(name="n1", secret="s")
    assert cluster.hosts_seen() == ["c1", "c2", "c2"]
    cluster.hosts["c2"] = refused  # c2 goes away in turn: c3, then round to c1 only if c3 fails too
    client.heartbeat(name="n1", secret="s")
    assert cluster.hosts_seen()[3:] == ["c2", "c3"]


def test_the_search_wraps_around_from_the_remembered_controller() -> None:
    cluster = Cluster(c1=ok, c2=refused, c3=ok)
    client = cluster.client()
    cluster.hosts["c1"] = refused
    client.heartbeat(name="n1", secret="s")  # c1 (remembered), c2, c3
    cluster.hosts.update(c1=ok, c3=refused)
    client.heartbeat(name="n1", secret="s")  # c3 (remembered), then round to c1
    assert cluster.hosts_seen() == ["c1", "c2", "c3", "c3", "c1"]


@pytest.mark.parametrize("code", [400, 401, 404, 409, 422, 429, 500])
def test_a_real_answer_is_the_clusters_and_never_failed_over(code: int) -> None:
    cluster = Cluster(c1=status(code), c2=ok, c3=ok)
    with pytest.raises(ControllerError) as err:
        cluster.client().heartbeat(name="n1", secret="s")
    assert err.value.status == code and not isinstance(err.value, Unreachable)
    assert cluster.hosts_seen() == ["c1"]


def test_an_answering_controller_is_remembered_even_when_it_says_no() -> None:
    cluster = Cluster(c1=refused, c2=status(404), c3=ok)
    client = cluster.client()
    with pytest.raises(ControllerError):
        client.heartbeat(name="n1", secret="s")
    assert client.base_url == "http://c2:6780"


def test_every_controller_failing_raises_the_last_failure_after_one_try_each() -> None:
    cluster = Cluster(c1=refused, c2=status(503), c3=refused)
    with pytest.raises(Unreachable, match="c3"):
        cluster.client().heartbeat(name="n1", secret="s")
    assert cluster.hosts_seen() == ["c1", "c2", "c3"]
    cluster = Cluster(c1=refused, c2=refused, c3=status(503))
    with pytest.raises(ControllerError) as err:
        cluster.client().heartbeat(name="n1", secret="s")
    assert err.value.status == 503


def test_a_tls_refusal_goes_on_to_the_next_controller_but_loudly(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing was sent to the impostor (the handshake comes first), and one bad address must not cut the node off
    the genuine replicas; but the refusal is an error in the log, whatever the next controller answers."""
    cluster = Cluster(c1=untrusted, c2=ok, c3=ok)
    with caplog.at_level(logging.WARNING, logger="hubnet.node.agent.client"):
        record = cluster.client().heartbeat(name="n1", secret="s")
    assert record.name == "n1" and cluster.hosts_seen() == ["c1", "c2"]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "refusing the controller at http://c1:6780" in errors[0].getMessage()


def test_only_tls_refusals_raise_untrusted() -> None:
    cluster = Cluster(c1=untrusted, c2=untrusted, c3=untrusted)
    with pytest.raises(UntrustedController, match="c3"):
        cluster.client().heartbeat(name="n1", secret="s")


def test_one_url_behaves_as_before(caplog: pytest.LogCaptureFixture) -> None:
    cluster = Cluster(c1=untrusted)
    with caplog.at_level(logging.WARNING, logger="hubnet.node.agent.client"), pytest.raises(UntrustedController):
        cluster.client("http://c1:6780/").heartbeat(name="n1", secret="s")
    assert not caplog.records  # alone, the caller logs it (once)
    assert cluster.hosts_seen() == ["c1"]


def test_a_long_poll_gets_its_own_read_timeout() -> None:
    seen: list[dict[str, float | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={})

    client = ControllerClient(["http://c1"], timeout=3.0, transport=httpx.MockTransport(answer))
    client.request("GET", "/v1/routes", "s", params={"since": 5, "wait": 25}, timeout=35.0)
    client.request("GET", "/v1/nodes/n1", "s")
    assert seen[0] == {"connect": 3.0, "read": 35.0, "write": 35.0, "pool": 35.0}
    assert seen[1] == {"connect": 3.0, "read": 3.0, "write": 3.0, "pool": 3.0}


def test_no_url_is_refused() -> None:
    with pytest.raises(ValueError, match="no controller URL"):
        ControllerClient([])
