"""The lab's dual-stack pure parts: the plan per family, the IPv6 verdict, ICMPv6 framing, the check report's
per-family counts, an older state file read as IPv4-only. No namespaces, no processes."""

from __future__ import annotations

import struct
from ipaddress import IPv6Address

import pytest

from hubnet.lab import icmp, tcpprobe
from hubnet.lab.check import CheckReport, Pod, Reach, lab_pods
from hubnet.lab.plan import PlanError, make_plan, node_address6
from hubnet.lab.state import LabState, PodState
from hubnet.lab.tcpprobe import Pair


def test_dual_stack_is_the_default_plan() -> None:
    plan = make_plan("lab", 2, 1)
    assert plan.families == (4, 6)
    assert [str(a) for a in plan.nodes[0].addresses] == ["192.168.1.11", "fd00:192:168:1::11"]
    assert [str(a) for a in plan.router_addresses] == ["192.168.1.1", "fd00:192:168:1::1"]
    assert [str(c) for c in plan.cluster_cidrs] == ["10.244.0.0/16", "fd00:10:244::/56"]
    assert plan.controller_url == "http://192.168.1.1:6780"
    assert node_address6(200) == IPv6Address("fd00:192:168:1::d8")


def test_single_family_plans() -> None:
    v4 = make_plan("lab", 1, 0, (4,))
    assert [str(a) for a in v4.nodes[0].addresses] == ["192.168.1.11"]
    assert [str(c) for c in v4.cluster_cidrs] == ["10.244.0.0/16"]
    v6 = make_plan("lab", 1, 0, (6,))
    assert [str(a) for a in v6.nodes[0].addresses] == ["fd00:192:168:1::11"]
    assert v6.controller_url == "http://[fd00:192:168:1::1]:6780"
    assert [str(a) for a in v6.router_addresses] == ["fd00:192:168:1::1"]


@pytest.mark.parametrize("families", [(), (5,), (4, 4), (6, 6, 4)])
def test_bad_families_refused(families: tuple[int, ...]) -> None:
    with pytest.raises(PlanError):
        make_plan("lab", 1, 0, families)


def test_ipv6_verdict_compares_addresses_not_spellings() -> None:
    a = Pod("node-1", "a", "ns-a", "fd00:10:244:1::2", "")
    b = Pod("node-2", "b", "ns-b", "fd00:10:244:2::2", "")
    assert tcpprobe.judge(a, b, "fd00:10:244:1:0:0:0:2 b\n").ok
    translated = tcpprobe.judge(a, b, "fd00:192:168:1::12 b\n")
    assert translated.translated and translated.seen == "fd00:192:168:1::12"


def test_icmpv6_echo_framing() -> None:
    packet = icmp.echo_request6(0x1234, 7, b"x")
    assert struct.unpack("!BBHHH", packet[:8]) == (128, 0, 0, 0x1234, 7)  # the kernel fills the checksum
    reply = struct.pack("!BBHHH", 129, 0, 0, 0x1234, 7) + b"x"
    assert icmp.is_reply6(reply, 0x1234, 7)
    assert not icmp.is_reply6(reply, 0x1234, 8)
    assert not icmp.is_reply6(packet, 0x1234, 7)  # our own request is not a reply


def _state() -> LabState:
    state = LabState("lab", 2, 1, "b", "a", families=[4, 6])
    state.subnets = {"node-1": "10.244.1.0/24", "node-2": "10.244.2.0/24"}
    state.node_subnets = {
        "node-1": ["10.244.1.0/24", "fd00:10:244:1::/64"],
        "node-2": ["10.244.2.0/24", "fd00:10:244:2::/64"],
    }
    state.node_pods = {
        "node-1": [PodState("n1-pod-1", "ns1", "10.244.1.2", ["10.244.1.2", "fd00:10:244:1::2"])],
        "node-2": [PodState("n2-pod-1", "ns2", "10.244.2.2", ["10.244.2.2", "fd00:10:244:2::2"])],
    }
    return state


def test_pods_carry_each_family_with_its_gateway() -> None:
    pods = lab_pods(_state())
    assert pods[0].gateways == ("10.244.1.1", "fd00:10:244:1::1")
    v6 = pods[0].of_family(6)
    assert v6 is not None and (v6.ip, v6.gateway) == ("fd00:10:244:1::2", "fd00:10:244:1::1")
    v4 = pods[1].of_family(4)
    assert v4 is not None and (v4.ip, v4.gateway) == ("10.244.2.2", "10.244.2.1")


def test_report_counts_per_family() -> None:
    report = CheckReport(pods=lab_pods(_state()))
    report.pairs = [
        Pair("n1-pod-1", "n2-pod-1", True, family=4),
        Pair("n1-pod-1", "n2-pod-1", False, error=tcpprobe.TRANSLATED, family=6),
    ]
    report.reach = [Reach("n1-pod-1", "gateway", "fd00:10:244:1::1", True, 6)]
    data = report.to_json()
    assert not data["ok"]
    assert data["families"]["4"]["pairs_ok"] == 1
    assert data["families"]["6"] == {
        "pairs_total": 1,
        "pairs_ok": 0,
        "pairs_translated": 1,
        "reach_total": 1,
        "reach_ok": 1,
    }


def test_a_state_file_from_before_dual_stack_is_ipv4_only() -> None:
    old = {"name": "lab", "nodes": 1, "pods": 0, "bootstrap_token": "b", "admin_token": "a", "subnets": {}}
    state = LabState.from_json(old)
    assert state.families == [4] and state.node_subnets == {}
