"""One dual-stack 2-node, 10-pod lab for the module: all 380 ordered pairs connect without NAT over IPv4 and over
IPv6 (760 probes), the check is not vacuous (it sees a NAT we inject, in either family), an agent restart keeps pods
connected, and `down` leaves the root namespace as it was.

The tests run in file order on the shared lab; the last one takes it down and checks for leftovers.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any

import pytest

from hubnet.lab import members, procs
from hubnet.lab.plan import NODE_UPLINK, make_plan, pod_plan
from hubnet.lab.state import StateStore
from tests.e2e.conftest import (
    UP_TIMEOUT,
    check,
    hubnet,
    lab_name,
    lab_netns,
    need_lab,
    processes_mentioning,
    root_snapshot,
    sh,
    status,
)

pytestmark = [pytest.mark.e2e, pytest.mark.netns]
NODES, PODS = 2, 10
PAIRS = NODES * PODS * (NODES * PODS - 1)  # 380 ordered pairs per family


@pytest.fixture(scope="module")
def lab() -> Iterator[dict[str, Any]]:
    need_lab()
    name = lab_name("conn")
    before = root_snapshot()
    try:
        hubnet("lab", "up", "--name", name, "--nodes", str(NODES), "--pods", str(PODS), timeout=UP_TIMEOUT)
        yield {"name": name, "before": before}
    finally:
        hubnet("lab", "down", "--name", name, check=False)


def test_status_reports_the_contract_and_the_router_holds_the_routes(lab: dict[str, Any]) -> None:
    data = status(lab["name"])
    assert set(data) >= {"name", "router", "controller", "nodes", "families"}
    assert data["families"] == [4, 6]
    assert data["router"] == {
        "netns": f"hnlab-{lab['name']}-router",
        "address": "192.168.1.1",
        "addresses": ["192.168.1.1", "fd00:192:168:1::1"],
    }
    assert data["controller"] == {"url": "http://192.168.1.1:6780"}
    assert [n["address"] for n in data["nodes"]] == ["192.168.1.11", "192.168.1.12"]
    assert [n["addresses"] for n in data["nodes"]] == [
        ["192.168.1.11", "fd00:192:168:1::11"],
        ["192.168.1.12", "fd00:192:168:1::12"],
    ]
    routes = sh("ip", "route", "show", ns=data["router"]["netns"])
    routes6 = sh("ip", "-6", "route", "show", "proto", "44", ns=data["router"]["netns"])
    for node in data["nodes"]:
        subnet = IPv4Network(node["subnet"])
        subnet6 = IPv6Network(node["subnets"][1])
        assert node["subnets"][0] == node["subnet"] and subnet6.subnet_of(IPv6Network("fd00:10:244::/56"))
        assert subnet6.prefixlen == 64
        assert len(node["pods"]) == PODS
        for pod in node["pods"]:
            assert pod["ip"] == pod["ips"][0] and IPv4Address(pod["ip"]) in subnet
            assert len(pod["ips"]) == 2 and IPv6Address(pod["ips"][1]) in subnet6
        assert f"{subnet} via {node['address']}" in routes
        assert f"{subnet6} via {node['addresses'][1]}" in routes6
        # the addresses are really in the pod's namespace, not only in our record
        pod = node["pods"][0]
        assert pod["ip"] in sh("ip", "-4", "-o", "addr", ns=pod["netns"])
        v6 = sh("ip", "-6", "-o", "addr", "show", "scope", "global", ns=pod["netns"])
        assert pod["ips"][1] in v6 and "tentative" not in v6
    assert len({ip for n in data["nodes"] for p in n["pods"] for ip in p["ips"]}) == 2 * NODES * PODS


def test_every_ordered_pair_connects_without_nat(lab: dict[str, Any]) -> None:
    code, report = check(lab["name"])
    pods = NODES * PODS
    assert report["pairs_total"] == 2 * PAIRS == 760
    assert report["pairs_ok"] == 760, [p for p in report["pairs"] if not p["ok"]][:5]
    assert report["pairs_translated"] == 0
    for family in ("4", "6"):
        assert report["families"][family]["pairs_ok"] == report["families"][family]["pairs_total"] == PAIRS
    assert report["reach_ok"] == report["reach_total"] == 2 * 2 * pods  # gateway and router, both families
    # the far pod saw the sender's own address of each family
    ips = {p["name"]: p["ips"] for p in report["pods"]}
    for pair in report["pairs"]:
        assert pair["seen"] == ips[pair["source"]][0 if pair["family"] == 4 else 1]
    assert code == 0
    # the router stays the hub: after all that traffic no node has learned a redirect around it
    data = status(lab["name"])
    for node, other in ((data["nodes"][0], data["nodes"][1]), (data["nodes"][1], data["nodes"][0])):
        route = sh("ip", "route", "get", other["pods"][0]["ip"], ns=node["netns"])
        assert "via 192.168.1.1 " in route, route
        route6 = sh("ip", "-6", "route", "get", other["pods"][0]["ips"][1], ns=node["netns"])
        assert "via fd00:192:168:1::1 " in route6, route6


def test_check_detects_a_translated_source_address(lab: dict[str, Any]) -> None:
    """Masquerade node-2's traffic onto the underlay, both families: the check must report those pairs red."""
    node_ns = make_plan(lab["name"], NODES, 0).nodes[1].netns
    rules = (
        "add table inet hnt_e2e_nat\n"
        "add chain inet hnt_e2e_nat post { type nat hook postrouting priority srcnat; }\n"
        f'add rule inet hnt_e2e_nat post oifname "{NODE_UPLINK}" masquerade\n'
    )
    subprocess.run(["ip", "netns", "exec", node_ns, "nft", "-f", "-"], input=rules, text=True, check=True)
    try:
        code, report = check(lab["name"])
    finally:
        sh("nft", "delete", "table", "inet", "hnt_e2e_nat", ns=node_ns)
    assert code == 1
    for family in ("4", "6"):  # node-2's pods → node-1's pods, in each family
        assert report["families"][family]["pairs_translated"] == PODS * PODS
    seen = {p["seen"] for p in report["pairs"] if p["error"] == "source address translated"}
    assert seen == {"192.168.1.12", "fd00:192:168:1::12"}
    code, report = check(lab["name"])
    assert (code, report["pairs_ok"]) == (0, 760)


def test_agent_restart_keeps_pods_connected_and_new_pods_join(lab: dict[str, Any]) -> None:
    """The agent stopped (SIGTERM leaves the network in place): every pair still connects; started again, it
    serves a new pod that reaches all the others."""
    store = StateStore(lab["name"])
    state = store.load()
    assert state is not None
    plan = make_plan(lab["name"], NODES, PODS)
    node = plan.nodes[0]
    old = state.processes[f"agent-{node.name}"]
    assert procs.stop([old]) == []  # exited on SIGTERM, not killed
    code, report = check(lab["name"])
    assert (code, report["pairs_ok"], report["pairs_total"]) == (0, 760, 760)

    new = members.start_agent(plan, node, store, state)
    members.wait_agent_ready(node, store, new, timeout=60)
    extra = members.attach_pod(node, pod_plan(lab["name"], node.index, PODS + 1), store, state)
    assert extra.ip is not None and IPv4Address(extra.ip) in IPv4Network(state.subnets[node.name])
    assert IPv6Address(extra.ips[1]) in IPv6Network(state.node_subnets[node.name][1])
    pods = NODES * PODS + 1
    code, report = check(lab["name"])
    assert (report["pairs_ok"], report["pairs_total"]) == (2 * pods * (pods - 1), 840)
    assert code == 0


def test_down_leaves_nothing_behind(lab: dict[str, Any]) -> None:
    name = lab["name"]
    state = StateStore(name).load()
    assert state is not None
    pids = list(state.processes.values())
    hubnet("lab", "down", "--name", name)
    assert lab_netns(name) == []
    assert not StateStore(name).exists()
    assert [pid for pid in pids if _alive(pid)] == []
    assert [pid for pid in processes_mentioning(str(StateStore(name).dir)) if _alive(pid)] == []
    assert root_snapshot() == lab["before"]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
