"""One 2-node, 10-pod lab for the module: all 380 ordered pairs connect without NAT, the check is not vacuous
(it sees a NAT we inject), an agent restart keeps pods connected, and `down` leaves the root namespace as it was.

The tests run in file order on the shared lab; the last one takes it down and checks for leftovers.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network
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
    assert set(data) >= {"name", "router", "controller", "nodes"}
    assert data["router"] == {"netns": f"hnlab-{lab['name']}-router", "address": "192.168.1.1"}
    assert data["controller"] == {"url": "http://192.168.1.1:6780"}
    assert [n["address"] for n in data["nodes"]] == ["192.168.1.11", "192.168.1.12"]
    routes = sh("ip", "route", "show", ns=data["router"]["netns"])
    for node in data["nodes"]:
        subnet = IPv4Network(node["subnet"])
        assert len(node["pods"]) == PODS
        assert all(IPv4Address(p["ip"]) in subnet for p in node["pods"])
        assert f"{subnet} via {node['address']}" in routes
        # the address is really in the pod's namespace, not only in our record
        assert node["pods"][0]["ip"] in sh("ip", "-4", "-o", "addr", ns=node["pods"][0]["netns"])
    assert len({p["ip"] for n in data["nodes"] for p in n["pods"]}) == NODES * PODS


def test_every_ordered_pair_connects_without_nat(lab: dict[str, Any]) -> None:
    code, report = check(lab["name"])
    pods = NODES * PODS
    assert report["pairs_total"] == pods * (pods - 1) == 380
    assert report["pairs_ok"] == 380, [p for p in report["pairs"] if not p["ok"]][:5]
    assert report["pairs_translated"] == 0
    assert report["reach_ok"] == report["reach_total"] == 2 * pods  # gateway and router from every pod
    assert code == 0
    # the router stays the hub: after all that traffic no node has learned a redirect around it
    data = status(lab["name"])
    for node, other in ((data["nodes"][0], data["nodes"][1]), (data["nodes"][1], data["nodes"][0])):
        route = sh("ip", "route", "get", other["pods"][0]["ip"], ns=node["netns"])
        assert "via 192.168.1.1 " in route, route


def test_check_detects_a_translated_source_address(lab: dict[str, Any]) -> None:
    """Masquerade node-2's traffic onto the underlay: the check must report those pairs red (exit 1)."""
    node_ns = make_plan(lab["name"], NODES, 0).nodes[1].netns
    rules = (
        "add table ip hnt_e2e_nat\n"
        "add chain ip hnt_e2e_nat post { type nat hook postrouting priority srcnat; }\n"
        f'add rule ip hnt_e2e_nat post oifname "{NODE_UPLINK}" masquerade\n'
    )
    subprocess.run(["ip", "netns", "exec", node_ns, "nft", "-f", "-"], input=rules, text=True, check=True)
    try:
        code, report = check(lab["name"])
    finally:
        sh("nft", "delete", "table", "ip", "hnt_e2e_nat", ns=node_ns)
    assert code == 1
    assert report["pairs_translated"] == PODS * PODS  # node-2's pods → node-1's pods
    assert {p["seen"] for p in report["pairs"] if p["error"] == "source address translated"} == {"192.168.1.12"}
    code, report = check(lab["name"])
    assert (code, report["pairs_ok"]) == (0, 380)


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
    assert (code, report["pairs_ok"], report["pairs_total"]) == (0, 380, 380)

    new = members.start_agent(plan, node, store, state)
    members.wait_agent_ready(node, store, new, timeout=60)
    extra = members.attach_pod(node, pod_plan(lab["name"], node.index, PODS + 1), store, state)
    assert extra.ip is not None and IPv4Address(extra.ip) in IPv4Network(state.subnets[node.name])
    pods = NODES * PODS + 1
    code, report = check(lab["name"])
    assert (report["pairs_ok"], report["pairs_total"]) == (pods * (pods - 1), 420)
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
