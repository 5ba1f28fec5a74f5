"""A direct-mode lab (`hubnet lab up --mode direct`, 3 nodes x 2 pods, dual-stack): every ordered pod pair connects
without NAT with 0 datagrams forwarded by the router namespace, each node holds one route per other node's subnet
(protocol 44) and no cluster route; then the running lab is switched to hub (pairs pass, through the router) and
back to direct (pairs pass, 0 forwarded again)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import UP_TIMEOUT, check, hubnet, lab_name, lab_netns, need_lab, sh, status

pytestmark = [pytest.mark.e2e, pytest.mark.netns]
NODES, PODS = 3, 2
PAIRS = (NODES * PODS) * (NODES * PODS - 1) * 2  # ordered pairs, both families


@pytest.fixture(scope="module")
def lab() -> Iterator[str]:
    need_lab()
    name = lab_name("dir")
    try:
        hubnet("lab", "up", "--name", name, "--nodes", str(NODES), "--pods", str(PODS), "--mode", "direct",
               timeout=UP_TIMEOUT)  # fmt: skip
        yield name
    finally:
        hubnet("lab", "down", "--name", name, check=False)
    assert lab_netns(name) == []


def _own_routes(netns: str) -> list[str]:
    out = sh("ip", "-4", "route", "show", "proto", "44", ns=netns) + sh(
        "ip", "-6", "route", "show", "proto", "44", ns=netns
    )
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _assert_direct(name: str) -> None:
    data = status(name)
    nodes = data["nodes"]
    for node in nodes:
        others = {s for other in nodes if other["name"] != node["name"] for s in other["subnets"]}
        assert sorted(_own_routes(node["netns"])) == sorted(others), node["name"]


def _check(name: str, mode: str) -> dict[str, object]:
    code, report = check(name)
    assert code == 0 and report["ok"], report
    assert report["pairs_total"] == PAIRS and report["pairs_ok"] == PAIRS and report["pairs_translated"] == 0
    assert report["mode"] == mode
    return report


def test_direct_lab_check_passes_without_the_router(lab: str) -> None:
    _assert_direct(lab)
    report = _check(lab, "direct")
    assert report["router_forwarded"] == 0


def test_switching_the_running_lab_to_hub_and_back(lab: str) -> None:
    hubnet("lab", "mode", "hub", "--name", lab, timeout=180)
    for node in status(lab)["nodes"]:
        assert sorted(_own_routes(node["netns"])) == ["10.244.0.0/16", "fd00:10:244::/56"], node["name"]
    report = _check(lab, "hub")
    forwarded = report["router_forwarded"]
    assert isinstance(forwarded, int) and forwarded > 0  # through the router now
    hubnet("lab", "mode", "direct", "--name", lab, timeout=180)
    _assert_direct(lab)
    assert _check(lab, "direct")["router_forwarded"] == 0
