"""The data plane does not depend on the control plane: chaos on a real lab (`hubnet lab up`, 3 nodes x 2 pods).

Every pod pings every pod on the other nodes at 10/s for the whole of each test, each request counted:
- the controller is killed with SIGKILL and started again 30 s later: 0 requests lost, the router never loses a
  route, every node keeps its subnet and is `active` again without re-registering;
- node-1 is cut from the controller for 120 s by an nftables drop of the controller's port (both ways) in the
  router namespace — longer than the 60 s lease, so the controller marks it stale: 0 requests lost to or from
  node-1's pods, the agent asks ≤ 1/s on average, a pod can still be added on node-1, 0 subnets released, and
  after the drop is lifted node-1 is `active` again within 15 s with the same subnet.

Sizes: HUBNET_CHAOS_CONTROLLER_DOWN_SECONDS (30), HUBNET_CHAOS_PARTITION_SECONDS (120).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from hubnet.lab import icmp, members, procs
from hubnet.lab.controller import ControllerError, LabController
from hubnet.lab.plan import CONTROLLER_PORT, LabPlan, make_plan, pod_plan
from hubnet.lab.state import LabState, StateStore
from hubnet.linux.labnet import socket_in
from tests.chaos.pings import PacedPings, Stream, stop_all, summary
from tests.chaos.support import PROTO, env_int
from tests.e2e.conftest import UP_TIMEOUT, hubnet, lab_name, need_lab, sh

pytestmark = [pytest.mark.e2e, pytest.mark.netns]
NODES, PODS = 3, 2
DOWN_SECONDS = env_int("HUBNET_CHAOS_CONTROLLER_DOWN_SECONDS", 30)
PARTITION_SECONDS = env_int("HUBNET_CHAOS_PARTITION_SECONDS", 120)
HEAL_LIMIT = 15.0  # seconds from lifting the partition to `active`
RETRY_LOG = "node keeps running, retry in"  # the agent's line for each attempt that got no answer
PARTITION_TABLE = "hnt_partition"


@dataclass
class Lab:
    name: str
    plan: LabPlan
    store: StateStore
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> LabState:
        state = self.store.load()
        assert state is not None, f"lab {self.name} has no state file"
        return state

    def controller(self) -> LabController:
        return LabController(self.plan.router_netns, self.state.admin_token, timeout=3.0)

    def nodes(self) -> dict[str, dict[str, Any]]:
        return {n["name"]: n for n in self.controller().nodes()}

    def pods(self) -> dict[str, list[tuple[str, str, str]]]:
        """node -> [(pod name, pod netns, pod ip)] as attached."""
        return {node: [(p.name, p.netns, str(p.ip)) for p in pods] for node, pods in self.state.node_pods.items()}

    def events_since(self, revision: int) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.controller().get(f"/v1/events?since={revision}&limit=1000")["items"]
        return items

    def revision(self) -> int:
        items = self.controller().get("/v1/events?since=0&limit=1000")["items"]
        return int(items[-1]["revision"]) if items else 0


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    need_lab()
    name = lab_name("chaos")
    try:
        hubnet("lab", "up", "--name", name, "--nodes", str(NODES), "--pods", str(PODS), timeout=UP_TIMEOUT)
        yield Lab(name, make_plan(name, NODES, PODS), StateStore(name))
    finally:
        hubnet("lab", "down", "--name", name, check=False)


def start_pings(lab: Lab, sources: Callable[[str], bool]) -> list[PacedPings]:
    """Every pod on a node selected by `sources` pings every pod on the other nodes at 10/s."""
    pods = lab.pods()
    streams = []
    for node, items in pods.items():
        if not sources(node):
            continue
        remote = [ip for other, others in pods.items() if other != node for _, _, ip in others]
        for pod, netns, _ in items:
            streams.append(PacedPings(pod, netns, remote).start())
    return streams


class RouteSampler:
    """Counts the routes we own (protocol 44) in the router's table every 100 ms on a thread."""

    def __init__(self, router_ns: str) -> None:
        self.router_ns = router_ns
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RouteSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            out = sh("ip", "-4", "route", "show", "proto", str(PROTO), ns=self.router_ns)
            self.samples.append(sum(1 for line in out.splitlines() if " via " in line))


def wait_until(cond: Callable[[], bool], timeout: float, step: float = 0.2) -> float:
    """Seconds until `cond()` held; fails the test after `timeout`."""
    started = time.monotonic()
    while not cond():
        if time.monotonic() - started > timeout:
            pytest.fail(f"condition not met within {timeout:.0f}s")
        time.sleep(step)
    return time.monotonic() - started


def all_active(lab: Lab) -> bool:
    try:
        nodes = lab.nodes()
    except ControllerError:
        return False
    return len(nodes) == NODES and all(
        n["state"] == "active" and n["route_state"] == "programmed" for n in nodes.values()
    )


def controller_answers(lab: Lab) -> bool:
    try:
        lab.controller().get("/readyz")
        return True
    except ControllerError:
        return False


def assert_no_loss(streams: list[Stream], seconds: float) -> dict[str, float]:
    totals = summary(streams)
    lost = {f"{s.source}->{s.target}": s.lost[:10] for s in streams if s.lost}
    assert totals["lost"] == 0, f"{totals}; lost seqs per stream: {lost}"
    # the pacing held (a pinger that stalled would lose nothing by sending nothing)
    assert totals["sent"] >= 0.9 * 10 * seconds * len(streams), totals
    return totals


def test_controller_kill_9_for_30_s_loses_no_pod_packet(lab: Lab) -> None:
    before = lab.nodes()
    revision = lab.revision()
    pid = lab.state.processes["controller"]
    assert procs.alive(pid)
    pingers = start_pings(lab, lambda _node: True)
    started = time.monotonic()
    with RouteSampler(lab.plan.router_netns) as routes:
        time.sleep(2.0)
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        wait_until(lambda: not procs.alive(pid), timeout=10)
        assert not controller_answers(lab)
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - killed)))
        assert not controller_answers(lab), "something answered for the killed controller"
        state = lab.state
        new_pid = members.start_controller(lab.plan, lab.store, state)
        down_for = time.monotonic() - killed
        lab.controller().wait_ready(60, alive=lambda: procs.alive(new_pid))
        ready_after = time.monotonic() - killed - down_for
        active_after = wait_until(lambda: all_active(lab), timeout=60)
        time.sleep(3.0)  # traffic after the recovery too
    pinged_s = time.monotonic() - started
    streams = stop_all(pingers)
    totals = assert_no_loss(streams, pinged_s)
    assert down_for >= DOWN_SECONDS
    assert routes.samples and min(routes.samples) == NODES, f"router lost a route: min {min(routes.samples)}"
    after = lab.nodes()
    assert {n: (r["subnet"], r["generation"]) for n, r in after.items()} == {
        n: (r["subnet"], r["generation"]) for n, r in before.items()
    }
    kinds = [e["type"] for e in lab.events_since(revision)]
    assert "node.released" not in kinds and "node.registered" not in kinds, kinds
    lab.figures["kill"] = {
        **totals,
        "down_s": round(down_for, 1),
        "ready_after_start_s": round(ready_after, 2),
        "all_active_after_ready_s": round(active_after, 2),
        "route_samples": len(routes.samples),
        "min_routes": min(routes.samples),
    }
    print(f"\nkill -9 figures: {json.dumps(lab.figures['kill'])}")


# -- partition -------------------------------------------------------------------------------------------------
def partition_rules(node_address: str) -> str:
    """Drop the controller's port between one node and the controller, both ways, in the router namespace; each
    new connection attempt's source port is recorded, every dropped packet counted."""
    match_in = f"ip saddr {node_address} tcp dport {CONTROLLER_PORT}"
    return f"""
table inet {PARTITION_TABLE} {{
    set attempts {{ type inet_service; flags dynamic; size 65535; }}
    counter dropped_in {{ }}
    counter dropped_out {{ }}
    chain input {{
        type filter hook input priority -50; policy accept;
        {match_in} tcp flags & (syn | ack) == syn add @attempts {{ tcp sport }}
        {match_in} counter name dropped_in drop
    }}
    chain output {{
        type filter hook output priority -50; policy accept;
        ip daddr {node_address} tcp sport {CONTROLLER_PORT} counter name dropped_out drop
    }}
}}
"""


def nft(router_ns: str, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["ip", "netns", "exec", router_ns, "nft", *args], input=stdin, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def partition_counts(router_ns: str) -> dict[str, int]:
    data = json.loads(nft(router_ns, "-j", "list", "table", "inet", PARTITION_TABLE))["nftables"]
    counts = {"connection_attempts": 0}
    for item in data:
        if "set" in item and item["set"]["name"] == "attempts":
            counts["connection_attempts"] = len(item["set"].get("elem", []))
        if "counter" in item:
            counts[f"{item['counter']['name']}_packets"] = int(item["counter"]["packets"])
    return counts


def retry_lines(lab: Lab, node: str) -> int:
    try:
        text = lab.store.log(f"agent-{node}").read_text(errors="replace")
    except FileNotFoundError:
        return 0
    return text.count(RETRY_LOG)


def test_partition_of_one_node_for_120_s(lab: Lab) -> None:
    cut = lab.plan.nodes[0]
    router_ns = lab.plan.router_netns
    before = lab.nodes()
    revision = lab.revision()
    pingers = start_pings(lab, lambda _node: True)  # to and from node-1's pods, and between the others
    started = time.monotonic()
    seen: list[tuple[float, str]] = []
    try:
        with RouteSampler(router_ns) as routes:
            time.sleep(2.0)
            retries_before = retry_lines(lab, cut.name)
            nft(router_ns, "-f", "-", stdin=partition_rules(str(cut.address)))
            cut_at = time.monotonic()
            added = None
            while (elapsed := time.monotonic() - cut_at) < PARTITION_SECONDS:
                seen.append((elapsed, str(lab.nodes()[cut.name]["state"])))
                if added is None and seen[-1][1] == "stale":
                    added = add_pod_while_cut(lab, cut.index)
                time.sleep(1.0)
            counts = partition_counts(router_ns)
            retries = retry_lines(lab, cut.name) - retries_before
            nft(router_ns, "delete", "table", "inet", PARTITION_TABLE)
            healed_at = time.monotonic()
            partition_s = healed_at - cut_at
            heal_s = wait_until(lambda: lab.nodes()[cut.name]["state"] == "active", timeout=HEAL_LIMIT + 15)
            time.sleep(3.0)
    finally:
        subprocess.run(
            ["ip", "netns", "exec", router_ns, "nft", "delete", "table", "inet", PARTITION_TABLE], capture_output=True
        )
        pinged_s = time.monotonic() - started
        streams = stop_all(pingers)
    totals = assert_no_loss(streams, pinged_s)
    states = {state for _, state in seen}
    assert "stale" in states, f"the partition never crossed the stale threshold: {seen[-5:]}"
    assert "released" not in states
    assert heal_s <= HEAL_LIMIT, f"node-1 took {heal_s:.1f}s to be active again"
    assert counts["dropped_in_packets"] > 0, counts  # the agent really tried, and the drop really held
    requests_per_s = max(counts["connection_attempts"], retries) / partition_s
    assert requests_per_s <= 1.0, (counts, retries, partition_s)
    assert routes.samples and min(routes.samples) == NODES, f"router lost a route: min {min(routes.samples)}"
    after = lab.nodes()
    assert (after[cut.name]["subnet"], after[cut.name]["generation"]) == (
        before[cut.name]["subnet"],
        before[cut.name]["generation"],
    )
    assert all(n["state"] == "active" for n in after.values())
    kinds = [(e["type"], e["node"]) for e in lab.events_since(revision)]
    assert not [k for k in kinds if k[0] in ("node.released", "node.registered")], kinds
    assert ("node.stale", cut.name) in kinds and ("node.renewed", cut.name) in kinds, kinds
    assert added is not None, "no pod was added while node-1 was cut off"
    stale_at = next(t for t, s in seen if s == "stale")
    lab.figures["partition"] = {
        **totals,
        "partition_s": round(partition_s, 1),
        "stale_after_s": round(stale_at, 1),
        "agent_attempts": retries,
        **counts,
        "requests_per_s": round(requests_per_s, 3),
        "active_after_heal_s": round(heal_s, 2),
        "pod_added_while_cut": added,
    }
    print(f"\npartition figures: {json.dumps(lab.figures['partition'])}")


def add_pod_while_cut(lab: Lab, node_index: int) -> str:
    """A pod added through the CNI plugin on the cut-off node reaches a pod on another node both ways."""
    node = lab.plan.nodes[node_index - 1]
    state = lab.state
    pod = members.attach_pod(node, pod_plan(lab.name, node_index, PODS + 1), lab.store, state)
    assert pod.ip is not None
    far_netns = state.node_pods[lab.plan.nodes[node_index % NODES].name][0].netns
    far_ip = str(state.node_pods[lab.plan.nodes[node_index % NODES].name][0].ip)
    for netns, target in ((pod.netns, far_ip), (far_netns, pod.ip)):
        sock = socket_in(netns, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        try:
            assert icmp.reachable(sock, target), f"{netns} cannot reach {target}"
        finally:
            sock.close()
    return str(pod.ip)
