"""The lab's pure parts: the plan's names and addresses, the check's verdict and pair order, ICMP framing,
the state file round trip. No namespaces, no processes."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from hubnet.lab import icmp, lifecycle, members, tcpprobe
from hubnet.lab.plan import PlanError, lab_prefix, make_plan, node_address
from hubnet.lab.state import LabState, PodState, StateStore
from hubnet.node.runtime import PluginError


def test_plan_names_and_addresses() -> None:
    plan = make_plan("lab", 3, 2)
    assert plan.router_netns == "hnlab-lab-router"
    assert [n.netns for n in plan.nodes] == ["hnlab-lab-node-1", "hnlab-lab-node-2", "hnlab-lab-node-3"]
    assert [str(n.address) for n in plan.nodes] == ["192.168.1.11", "192.168.1.12", "192.168.1.13"]
    assert [p.netns for p in plan.nodes[1].pods] == ["hnlab-lab-n2-pod-1", "hnlab-lab-n2-pod-2"]
    assert plan.controller_url == "http://192.168.1.1:6780"
    assert all(len(n.router_port) <= 15 for n in make_plan("x", 200, 0).nodes)  # IFNAMSIZ
    assert node_address(200) == IPv4Address("192.168.1.210")


@pytest.mark.parametrize(
    ("name", "nodes", "pods"),
    [
        pytest.param("Lab", 1, 1, id="uppercase"),
        pytest.param("lab-2", 1, 1, id="dash: would make prefixes ambiguous"),
        pytest.param("averyveryverylongname", 1, 1, id="too long"),
        pytest.param("lab", 0, 1, id="no nodes"),
        pytest.param("lab", 201, 1, id="too many nodes"),
        pytest.param("lab", 1, 251, id="too many pods"),
    ],
)
def test_plan_rejects(name: str, nodes: int, pods: int) -> None:
    with pytest.raises(PlanError):
        make_plan(name, nodes, pods)


def test_one_lab_prefix_never_matches_another() -> None:
    assert not "hnlab-lab2-router".startswith(lab_prefix("lab"))


@dataclass(frozen=True)
class Ep:
    name: str
    netns: str
    ip: str


A, B = Ep("a", "ns-a", "10.244.1.2"), Ep("b", "ns-b", "10.244.2.2")


@pytest.mark.parametrize(
    ("reply", "ok", "error"),
    [
        pytest.param("10.244.1.2 b\n", True, None, id="own address seen"),
        pytest.param("192.168.1.11 b\n", False, tcpprobe.TRANSLATED, id="NAT: the node's address seen"),
        pytest.param("10.244.1.2 c\n", False, "unexpected answer '10.244.1.2 c'", id="another pod answered"),
        pytest.param("", False, "unexpected answer ''", id="closed without answer"),
    ],
)
def test_judge(reply: str, ok: bool, error: str | None) -> None:
    pair = tcpprobe.judge(A, B, reply)
    assert (pair.ok, pair.error) == (ok, error)


def test_ordered_pairs_are_every_pair_once_and_interleaved() -> None:
    pods = [Ep(str(i), "", "") for i in range(5)]
    pairs = tcpprobe.ordered_pairs(pods)
    assert len(pairs) == len(set(pairs)) == 20
    assert all(s != t for s, t in pairs)
    assert len({s for s, _ in pairs[:5]}) == 5  # the first window spreads over all sources


def test_icmp_echo_request_checksums_to_zero_and_reply_matches() -> None:
    packet = icmp.echo_request(0x1234, 7)
    assert icmp.checksum(packet) == 0
    reply = bytearray(packet)
    reply[0] = icmp.ECHO_REPLY
    ip_header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(reply), 0, 0, 64, 1, 0, socket.inet_aton("10.0.0.1"), b"\0" * 4
    )
    assert icmp.is_reply(ip_header + bytes(reply), "10.0.0.1", 0x1234, 7)
    assert not icmp.is_reply(ip_header + bytes(reply), "10.0.0.2", 0x1234, 7)
    assert not icmp.is_reply(ip_header + bytes(reply), "10.0.0.1", 0x1234, 8)


def test_state_round_trip(tmp_path: Path) -> None:
    store = StateStore("unit", root=tmp_path)
    state = LabState(name="unit", nodes=1, pods=1, bootstrap_token="b", admin_token="a")
    state.pods_of("node-1").append(PodState("n1-pod-1", "hnlab-unit-n1-pod-1", "10.244.1.2"))
    store.create(state)
    assert store.load() == state
    assert (store.path.stat().st_mode & 0o777) == 0o600
    store.path.write_text("{torn")
    assert store.load() is None  # `down` still cleans up by name prefix
    store.remove()
    assert not store.exists()


class _FakeRuntime:
    """Answers ADD with the given CNI error codes in turn (None: success); records every ADD."""

    def __init__(self, *answers: int | None) -> None:
        self.answers, self.calls = list(answers), 0

    def add(self, name: str, netns: str) -> dict[str, object]:
        self.calls += 1
        code = self.answers.pop(0)
        if code is not None:
            raise PluginError(code, "refused")
        return {}


def test_pods_are_attached_round_robin_over_the_nodes() -> None:
    order = [pod.name for _, pod in lifecycle.attach_order(make_plan("lab", 3, 2))]
    assert order == ["n1-pod-1", "n2-pod-1", "n3-pod-1", "n1-pod-2", "n2-pod-2", "n3-pod-2"]
    assert lifecycle.attach_order(make_plan("lab", 2, 0)) == []


@pytest.mark.parametrize(
    ("answers", "timeout", "raised", "calls"),
    [
        pytest.param((None,), 5.0, None, 1, id="added at once"),
        pytest.param((11, 11, None), 5.0, None, 3, id="CNI 11 is retried until ADD succeeds"),
        pytest.param((7, None), 5.0, 7, 1, id="another CNI error is final"),
        pytest.param((11, None), -1.0, 11, 1, id="CNI 11 past the deadline is raised"),
    ],
)
def test_pod_add_is_retried_only_on_try_again_later(
    answers: tuple[int | None, ...], timeout: float, raised: int | None, calls: int
) -> None:
    runtime = _FakeRuntime(*answers)
    if raised is None:
        members.add_retrying(runtime, "p", "/run/netns/p", timeout, interval=0.0)  # type: ignore[arg-type]
    else:
        with pytest.raises(PluginError) as caught:
            members.add_retrying(runtime, "p", "/run/netns/p", timeout, interval=0.0)  # type: ignore[arg-type]
        assert caught.value.code == raised
    assert runtime.calls == calls
