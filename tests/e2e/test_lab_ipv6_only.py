"""An IPv6-only lab (3 nodes x 3 pods): every ordered pair of the 9 pods (72) connects over IPv6 without NAT, the
controller listens on the router's IPv6 address, the router holds one IPv6 route per node, pods have no IPv4."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv6Address, IPv6Network

import pytest

from tests.e2e.conftest import UP_TIMEOUT, check, hubnet, lab_name, lab_netns, need_lab, root_snapshot, sh, status

pytestmark = [pytest.mark.e2e, pytest.mark.netns]
NODES, PODS = 3, 3


@pytest.fixture(scope="module")
def lab() -> Iterator[str]:
    need_lab()
    name = lab_name("six")
    before = root_snapshot()
    try:
        hubnet(
            "lab", "up", "--name", name, "--nodes", str(NODES), "--pods", str(PODS), "--ipv6-only", timeout=UP_TIMEOUT
        )
        yield name
    finally:
        hubnet("lab", "down", "--name", name, check=False)
    assert lab_netns(name) == []
    assert root_snapshot() == before


def test_status_is_ipv6_only(lab: str) -> None:
    data = status(lab)
    assert data["families"] == [6]
    assert data["router"]["addresses"] == ["fd00:192:168:1::1"] == [data["router"]["address"]]
    assert data["controller"]["url"] == "http://[fd00:192:168:1::1]:6780"
    routes = sh("ip", "-6", "route", "show", "proto", "44", ns=data["router"]["netns"])
    assert sh("ip", "-4", "route", "show", "proto", "44", ns=data["router"]["netns"]).strip() == ""
    for node in data["nodes"]:
        subnet = IPv6Network(node["subnet"])
        assert node["subnets"] == [node["subnet"]] and subnet.prefixlen == 64
        assert subnet.subnet_of(IPv6Network("fd00:10:244::/56"))
        assert f"{subnet} via {node['address']}" in routes
        for pod in node["pods"]:
            assert pod["ips"] == [pod["ip"]] and IPv6Address(pod["ip"]) in subnet
        pod_ns = node["pods"][0]["netns"]
        assert sh("ip", "-4", "-o", "addr", "show", "scope", "global", ns=pod_ns).strip() == ""
        assert "default via " + str(subnet.network_address + 1) in sh("ip", "-6", "route", ns=pod_ns)


def test_every_pair_connects_over_ipv6_without_nat(lab: str) -> None:
    code, report = check(lab)
    assert list(report["families"]) == ["6"]
    assert report["pairs_total"] == 9 * 8 == 72
    assert report["pairs_ok"] == 72, [p for p in report["pairs"] if not p["ok"]][:5]
    assert report["pairs_translated"] == 0
    ips = {p["name"]: p["ip"] for p in report["pods"]}
    assert all(p["seen"] == ips[p["source"]] for p in report["pairs"])  # the far pod saw the sender's own address
    assert report["reach_ok"] == report["reach_total"] == 2 * 9
    assert code == 0
