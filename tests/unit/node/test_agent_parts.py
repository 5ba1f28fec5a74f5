"""Agent pieces without a kernel: back-off, record validation, masquerade ruleset, controller client, secret."""

from __future__ import annotations

import json
import os
import stat
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from pathlib import Path

import httpx
import pytest

from hubnet.linux.nft import masquerade_ruleset
from hubnet.node.agent.agent import backoff, heartbeat_interval
from hubnet.node.agent.client import ControllerClient, ControllerError, Unreachable
from hubnet.node.agent.secret import SecretError, load_or_create
from hubnet.node.agent.state import NodeNetwork
from hubnet.wire import RouteState, WireError
from tests.support.records import node_json, node_record


def test_backoff_grows_is_jittered_and_capped() -> None:
    for failures in range(1, 20):
        d = min(10.0, 0.5 * 2**failures)
        assert d / 2 <= backoff(failures) <= d
    assert len({backoff(3) for _ in range(20)}) > 1


def test_heartbeat_interval() -> None:
    assert heartbeat_interval(node_record(route_state="pending")) == 0.5
    assert 1.0 * 0.8 <= heartbeat_interval(node_record(route_state="programmed", lease_ttl_seconds=3)) <= 1.0
    assert heartbeat_interval(node_record(route_state="programmed", lease_ttl_seconds=600)) <= 10.0


def test_heartbeat_backs_off_while_the_route_is_not_programmed() -> None:
    """0.5 s doubling up to a third of the TTL: a node that never becomes ready does not poll at 2 Hz forever."""
    pending = node_record(route_state="pending", lease_ttl_seconds=30)
    assert [heartbeat_interval(pending, n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    short = node_record(route_state="pending", lease_ttl_seconds=6)
    assert heartbeat_interval(short, 100) == 2.0


def test_record_outside_cluster_cidr_is_refused() -> None:
    net = NodeNetwork.from_record(node_record(gateway=None))
    assert net.gateway == IPv4Address("10.244.1.1") and net.router_of(4) == IPv4Address("192.168.1.1")
    with pytest.raises(ValueError, match="outside"):
        NodeNetwork.from_record(node_record(subnet="10.99.1.0/24", gateway=None))


def test_masquerade_only_leaving_the_cluster() -> None:
    text = masquerade_ruleset(IPv4Network("10.244.1.0/24"), [IPv4Network("10.244.0.0/16"), IPv4Network("10.96.0.0/12")])
    assert "ip saddr 10.244.1.0/24 ip daddr != { 10.244.0.0/16, 10.96.0.0/12 } masquerade" in text
    assert text.startswith("table ip hubnet {}\ndelete table ip hubnet\n")  # replaced atomically, idempotent


def _client(handler: object) -> ControllerClient:
    return ControllerClient("http://ctl", transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


def test_client_register_and_errors() -> None:
    seen: list[httpx.Request] = []

    def ok(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=node_json(name="n1", subnet="10.244.1.0/24", extra_field="ignored"))

    record = _client(ok).register(token="t", name="n1", address="192.168.1.11", secret="s")
    assert record == node_record(name="n1", subnet="10.244.1.0/24")
    assert record.route_state is RouteState.PROGRAMMED
    assert seen[0].headers["authorization"] == "Bearer t"

    def conflict(request: httpx.Request) -> httpx.Response:
        body = {"type": "urn:hubnet:problem:name-taken", "title": "Conflict", "detail": "name taken"}
        return httpx.Response(409, json=body)

    with pytest.raises(ControllerError) as err:
        _client(conflict).heartbeat(name="n1", secret="s")
    assert err.value.status == 409 and "name taken" in str(err.value) and err.value.problem == "name-taken"

    def partial(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"name": "n1", "subnet": "10.244.1.0/24"})

    with pytest.raises(WireError, match="address is missing"):
        _client(partial).heartbeat(name="n1", secret="s")

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(Unreachable):
        _client(down).heartbeat(name="n1", secret="s")


def test_a_dual_address_agent_registers_its_primary_address_with_a_controller_older_than_dual_stack() -> None:
    """Nodes upgraded before the controller: the old controller refuses the unknown `addresses` field (its
    RegisterRequest forbids extra fields); the agent registers with `address` alone instead of never joining. Any
    other 422 about `addresses` (a bad address) is raised as it is."""
    bodies: list[dict[str, object]] = []

    def old_controller(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        if "addresses" in body:  # what c24e9cf's problem handler answers for an extra field
            message = _extra_forbidden_message()
            errors = [{"field": "addresses", "message": message}]
            problem = {"type": "urn:hubnet:problem:invalid-input", "title": "Invalid input", "status": 422,
                       "detail": f"addresses: {message}", "errors": errors}  # fmt: skip
            return httpx.Response(422, json=problem)
        return httpx.Response(201, json=node_json(name="n1", subnet="10.244.1.0/24"))

    record = _client(old_controller).register(
        token="t", name="n1", address="192.168.1.11", secret="s", addresses=["192.168.1.11", "fd00:1::11"]
    )
    assert record.subnets == [] and record.subnet == "10.244.1.0/24"
    assert [sorted(b) for b in bodies] == [["address", "addresses", "name", "secret"], ["address", "name", "secret"]]

    def bad_address(request: httpx.Request) -> httpx.Response:
        errors = [{"field": "addresses", "message": "addresses fe80::1 is a link-local address"}]
        return httpx.Response(422, json={"type": "urn:hubnet:problem:invalid-input", "errors": errors})

    with pytest.raises(ControllerError) as err:
        _client(bad_address).register(
            token="t", name="n1", address="192.168.1.11", secret="s", addresses=["192.168.1.11", "fe80::1"]
        )
    assert err.value.fields == {"addresses": "addresses fe80::1 is a link-local address"}


def _extra_forbidden_message() -> str:
    """pydantic's own message for a field a strict model does not know (what every hubnet controller says)."""
    from pydantic import BaseModel, ConfigDict, ValidationError

    class Strict(BaseModel):
        model_config = ConfigDict(extra="forbid")

    try:
        Strict.model_validate({"addresses": []})
    except ValidationError as exc:
        return str(exc.errors()[0]["msg"])
    raise AssertionError("an extra field was accepted")


def test_secret_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    path = str(tmp_path / "state" / "secret")
    first = load_or_create(path)
    assert len(bytes.fromhex(first)) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create(path) == first


@pytest.mark.parametrize("content", ["", "ab12", "ab" * 10 + "\n", "not a secret with spaces " * 3])
def test_a_malformed_secret_file_is_refused_not_replaced(tmp_path: Path, content: str) -> None:
    """A truncated secret must not silently become a new one (the controller would answer name-taken forever)."""
    path = tmp_path / "secret"
    path.write_text(content)
    with pytest.raises(SecretError, match="Refusing to replace it"):
        load_or_create(str(path))
    assert path.read_text() == content
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]  # no temp file left either


def test_a_new_secret_is_fsynced_with_its_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    state = tmp_path / "state"
    value = load_or_create(str(state / "secret"))
    assert (state / "secret").read_text() == value
    assert any(p.startswith(str(state / "secret.tmp")) for p in synced)  # the content, before it is linked in
    assert str(state) in synced  # the directory entry
    assert [p.name for p in state.iterdir()] == ["secret"]


def test_an_existing_secret_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("A" * 43 + "\n")  # a valid secret that is not ours in format (43 url-safe characters)
    assert load_or_create(str(path)) == "A" * 43


def test_leave_while_an_agent_holds_the_lock_changes_nothing(tmp_path: Path) -> None:
    """The running agent would register again at once: leave is refused before the controller or the disk is
    touched (the netns test runs it against a real agent and controller)."""
    from hubnet.node.agent.agent import Agent
    from hubnet.node.agent.config import AgentConfig
    from hubnet.node.agent.server import AlreadyRunning, lock_state_dir

    def no_controller(url: str) -> ControllerClient:
        raise AssertionError(f"leave asked the controller {url}")

    config = AgentConfig(
        name="n1", address=IPv4Address("192.0.2.1"), controller="http://192.0.2.9:6780",
        state_dir=str(tmp_path), cni_conf_dir=str(tmp_path), cni_bin_dir=str(tmp_path),
    )  # fmt: skip
    Path(config.conflist_path).write_text("{}")
    held = lock_state_dir(str(tmp_path))  # what the running agent holds
    try:
        with pytest.raises(AlreadyRunning, match=f"pid {os.getpid()}"):
            Agent(config, client_factory=no_controller).leave(force=True)
    finally:
        os.close(held)
    assert Path(config.conflist_path).exists()


DUAL = {
    "subnet": "10.244.1.0/24",
    "subnets": ["10.244.1.0/24", "fd00:10:244:1::/64"],
    "gateways": ["10.244.1.1", "fd00:10:244:1::1"],
    "cluster_cidrs": ["10.244.0.0/16", "fd00:10:244::/56"],
    "addresses": ["192.168.1.11", "fd00:1::11"],
    "router_addresses": ["192.168.1.1", "fd00:1::1"],
}


def test_a_dual_stack_record_gives_a_subnet_gateway_and_router_per_family() -> None:
    net = NodeNetwork.from_record(node_record(**DUAL))
    assert [str(s) for s in net.subnets] == DUAL["subnets"] and net.families == (4, 6)
    assert net.subnet == IPv4Network("10.244.1.0/24") and net.gateway == IPv4Address("10.244.1.1")
    assert str(net.router_of(6)) == "fd00:1::1" and str(net.router_of(4)) == "192.168.1.1"
    assert [str(c) for c in net.cidrs_of(6)] == ["fd00:10:244::/56"]
    flag = NodeNetwork.from_record(node_record(**DUAL), [IPv6Address("fd00:1::99")])  # --router of one family
    assert [str(r) for r in flag.routers] == ["192.168.1.1", "fd00:1::99"]


def test_an_ipv6_only_record() -> None:
    net = NodeNetwork.from_record(
        node_record(
            subnet="fd00:10:244:1::/64", gateway="fd00:10:244:1::1", cluster_cidrs=["fd00:10:244::/56"],
            router_address="fd00:1::1", subnets=[], gateways=[], router_addresses=[],
        )
    )  # fmt: skip
    assert net.families == (6,) and net.gateway == IPv6Address("fd00:10:244:1::1") and net.router_of(4) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"subnets": ["10.244.1.0/24", "10.244.2.0/24"]}, "more than one subnet"),
        ({"subnets": ["10.244.1.0/24", "fd00:99::/64"]}, "fd00:99::/64 outside the cluster CIDRs"),
        ({"subnets": ["10.244.1.0/24", "fd00:10:244:1::/127"]}, "too small"),
        ({"subnets": ["10.244.2.0/24", "fd00:10:244:1::/64"]}, "not one of its subnets"),
        ({"gateways": ["10.244.1.1", "fd00:10:244:1::2"]}, "gateway fd00:10:244:1::2"),
        ({"subnets": ["10.244.1.0/24"], "gateways": ["10.244.1.1", "fd00:10:244:1::1"]}, "gateway fd00:10:244:1::1"),
        ({"router_addresses": ["192.168.1.1", "192.168.1.2"]}, "more than one router address"),
        ({"router_addresses": ["192.168.1.1", "fd00::1::1"]}, "router_address"),
        ({"subnets": ["10.244.1.0/24", "fd00:10:244:1::1/64"]}, "subnets"),
    ],
)
def test_a_dual_stack_record_that_makes_no_sense_is_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NodeNetwork.from_record(node_record(**{**DUAL, **change}))


def test_masquerade_per_family_only_leaving_that_familys_cluster() -> None:
    text = masquerade_ruleset(
        [IPv4Network("10.244.1.0/24"), IPv6Network("fd00:10:244:1::/64")],
        [IPv4Network("10.244.0.0/16"), IPv6Network("fd00:10:244::/56")],
    )
    assert "ip saddr 10.244.1.0/24 ip daddr != { 10.244.0.0/16 } masquerade" in text
    assert "ip6 saddr fd00:10:244:1::/64 ip6 daddr != { fd00:10:244::/56 } masquerade" in text
    # both tables replaced in the one transaction; an IPv4-only node's script deletes a leftover ip6 table too
    v4 = masquerade_ruleset(IPv4Network("10.244.1.0/24"), [IPv4Network("10.244.0.0/16")])
    assert "delete table ip6 hubnet\n" in v4 and "table ip6 hubnet {\n" not in v4


def test_register_sends_addresses_only_for_more_than_one() -> None:
    bodies: list[bytes] = []

    def ok(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(201, json=node_json(**DUAL))

    client = _client(ok)
    client.register(token="t", name="n1", address="192.168.1.11", addresses=["192.168.1.11"], secret="s")
    record = client.register(token="t", name="n1", address="192.168.1.11", addresses=DUAL["addresses"], secret="s")
    import json

    assert json.loads(bodies[0]) == {"name": "n1", "address": "192.168.1.11", "secret": "s"}  # as before dual-stack
    assert json.loads(bodies[1])["addresses"] == ["192.168.1.11", "fd00:1::11"]
    assert record.subnets == DUAL["subnets"]
