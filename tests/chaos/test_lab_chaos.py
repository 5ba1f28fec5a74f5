"""The data plane does not depend on the control plane: chaos on a real lab (`hubnet lab up`, 3 nodes x 2 pods).

Every pod pings every pod on the other nodes at 10/s for the whole of each test, each request counted:
- the controller is killed with SIGKILL and started again 30 s later: 0 requests lost, the router never loses a
  route, every node keeps its subnet and is `active` again without re-registering;
- node-1 is cut from the controller for 120 s by an nftables drop of the controller's port (both ways) in the
  router namespace — longer than the 60 s lease, so the controller marks it stale: 0 requests lost to or from
  node-1's pods, the agent asks <= 1/s on average, a pod can still be added on node-1, 0 subnets released, and
  after the drop is lifted node-1 is `active` again within 15 s with the same subnet;
- node-2's connections to the controller are refused (TCP reset) for 45 s: every attempt fails at once, so only the
  agent's back-off paces it — after the first few attempts they are at least 5 s and at most 10 s apart.

Sizes: HUBNET_CHAOS_CONTROLLER_DOWN_SECONDS (30), HUBNET_CHAOS_PARTITION_SECONDS (120),
HUBNET_CHAOS_REFUSED_SECONDS (45).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from hubnet.lab import icmp, members, procs
from hubnet.lab.controller import ControllerError, LabController
from hubnet.lab.plan import CONTROLLER_PORT, LabPlan, NodePlan, make_plan, pod_plan
from hubnet.lab.state import LabState, StateStore
from hubnet.linux.labnet import socket_in
from hubnet.node.agent.agent import RETRY_CAP, RETRY_NOTE
from tests.chaos.pings import PacedPings, Stream, stop_all, summary
from tests.chaos.support import PROTO, env_int
from tests.e2e.conftest import UP_TIMEOUT, hubnet, lab_name, need_lab, sh

pytestmark = [pytest.mark.e2e, pytest.mark.netns, pytest.mark.serial]
NODES, PODS = 3, 2
DOWN_SECONDS = env_int("HUBNET_CHAOS_CONTROLLER_DOWN_SECONDS", 30)
PARTITION_SECONDS = env_int("HUBNET_CHAOS_PARTITION_SECONDS", 120)
REFUSED_SECONDS = env_int("HUBNET_CHAOS_REFUSED_SECONDS", 45)
HEAL_LIMIT = 15.0  # seconds from lifting a partition to `active`
MAX_SEND_GAP = 0.5  # seconds: a pinger that paused longer left a window unprobed
SAMPLE_EVERY = 0.1  # seconds between two looks at the router's table
TABLE = "hnt_partition"  # the nftables table a partition adds to the lab's router namespace


@dataclass
class Lab:
    name: str
    plan: LabPlan
    store: StateStore
    spawned: list[int] = field(default_factory=list)  # controllers this process started (reaped at the end)

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
        """Every event after `revision` (following the pages)."""
        found: list[dict[str, Any]] = []
        while items := self.controller().get(f"/v1/events?since={revision}&limit=1000")["items"]:
            found.extend(items)
            revision = int(items[-1]["revision"])
        return found

    def revision(self) -> int:
        events = self.events_since(0)
        return int(events[-1]["revision"]) if events else 0

    def controller_up(self) -> bool:
        try:
            self.controller().get("/readyz")
            return True
        except ControllerError:
            return False

    def start_controller(self) -> int:
        pid = members.start_controller(self.plan, self.store, self.state)
        self.spawned.append(pid)
        self.controller().wait_ready(60, alive=lambda: procs.alive(pid))
        return pid


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    need_lab()
    name = lab_name("chaos")
    made = None
    try:
        hubnet("lab", "up", "--name", name, "--nodes", str(NODES), "--pods", str(PODS), timeout=UP_TIMEOUT)
        made = Lab(name, make_plan(name, NODES, PODS), StateStore(name))
        yield made
    finally:
        hubnet("lab", "down", "--name", name, check=False)
        for pid in made.spawned if made else []:  # our children: `down` killed them, we collect them
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


# -- what the tests watch ----------------------------------------------------------------------------------------
class RouteSampler(threading.Thread):
    """Counts the node routes in the router's table every SAMPLE_EVERY seconds: those of protocol `proto` (44, the
    kernel backend's; `bird` or `bgp` where a BGP daemon installs them) in each of `families` ("-4", "-6")."""

    def __init__(
        self,
        router_ns: str,
        proto: str = str(PROTO),
        families: tuple[str, ...] = ("-4",),
        skip: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(daemon=True)
        self.router_ns, self.proto, self.families = router_ns, proto, families
        self.skip = skip  # prefixes not counted (a node the test deletes on purpose)
        self.samples: list[int] = []
        self.error: BaseException | None = None
        self.halt = threading.Event()

    def run(self) -> None:
        try:
            while not self.halt.wait(SAMPLE_EVERY):
                count = 0
                for family in self.families:
                    out = sh("ip", family, "route", "show", "proto", self.proto, ns=self.router_ns)
                    count += sum(1 for line in out.splitlines() if " via " in line and line.split()[0] not in self.skip)
                self.samples.append(count)
        except BaseException as exc:  # reported by the test, not lost with the thread
            self.error = exc


@dataclass
class Traffic:
    """What the pods and the router saw while a test ran."""

    streams: list[Stream] = field(default_factory=list)
    max_send_gap: float = 0.0
    route_samples: list[int] = field(default_factory=list)
    seconds: float = 0.0


@contextlib.contextmanager
def watched(lab: Lab, sampler: RouteSampler | None = None) -> Iterator[Traffic]:
    """Every pod pings every pod on the other nodes at 10/s and the router's table is sampled (by `sampler`, the
    kernel backend's routes by default), until the block ends (also when it fails: the pingers and the sampler
    always stop)."""
    pods = lab.pods()
    pingers = []
    for node, items in pods.items():
        remote = [ip for other, others in pods.items() if other != node for _, _, ip in others]
        pingers.extend(PacedPings(pod, netns, remote).start() for pod, netns, _ in items)
    sampler = sampler or RouteSampler(lab.plan.router_netns)
    sampler.start()
    traffic = Traffic()
    started = time.monotonic()
    try:
        yield traffic
    finally:
        traffic.seconds = time.monotonic() - started
        sampler.halt.set()
        sampler.join()
        traffic.streams, traffic.max_send_gap = stop_all(pingers)
        traffic.route_samples = sampler.samples
    assert sampler.error is None, f"the route sampler failed: {sampler.error!r}"


def assert_data_plane_held(traffic: Traffic, routes: int = NODES) -> dict[str, float]:
    """0 requests lost, the pacing held (no unprobed window), the router always held every node's route (`routes`
    of them)."""
    totals = summary(traffic.streams)
    lost = {f"{s.source}->{s.target}": s.lost[:10] for s in traffic.streams if s.lost}
    assert totals["lost"] == 0, f"{totals}; lost seqs per stream: {lost}"
    assert traffic.max_send_gap <= MAX_SEND_GAP, f"a pinger paused {traffic.max_send_gap:.2f}s"
    assert totals["sent"] >= 0.9 * 10 * traffic.seconds * len(traffic.streams), totals
    samples = traffic.route_samples
    assert len(samples) >= 0.5 * traffic.seconds / SAMPLE_EVERY, f"{len(samples)} samples in {traffic.seconds:.0f}s"
    assert min(samples) >= routes, f"the router lost a route: min {min(samples)} of {routes}"
    return {**totals, "max_send_gap_s": round(traffic.max_send_gap, 3), "route_samples": len(samples)}


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


def identities(nodes: dict[str, dict[str, Any]]) -> dict[str, tuple[str, int]]:
    return {name: (str(n["subnet"]), int(n["generation"])) for name, n in nodes.items()}


# -- controller kill -9 ------------------------------------------------------------------------------------------
@pytest.mark.timeout(DOWN_SECONDS + 420)
def test_controller_kill_9_for_30_s_loses_no_pod_packet(lab: Lab) -> None:
    before = lab.nodes()
    revision = lab.revision()
    pid = lab.state.processes["controller"]
    assert procs.alive(pid)
    try:
        with watched(lab) as traffic:
            time.sleep(2.0)
            os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            wait_until(lambda: not procs.alive(pid), timeout=10)
            assert not lab.controller_up()
            time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - killed)))
            assert not lab.controller_up(), "something answered for the killed controller"
            down_for = time.monotonic() - killed
            lab.start_controller()
            ready_after = time.monotonic() - killed - down_for
            active_after = wait_until(lambda: all_active(lab), timeout=60)
            time.sleep(3.0)  # traffic after the recovery too
    finally:
        if not procs.alive(lab.state.processes["controller"]):  # leave the module's lab whole for the next test
            lab.start_controller()
    figures = assert_data_plane_held(traffic)
    assert down_for >= DOWN_SECONDS
    assert identities(lab.nodes()) == identities(before)
    kinds = [e["type"] for e in lab.events_since(revision)]
    assert "node.released" not in kinds and "node.registered" not in kinds, kinds
    figures |= {
        "down_s": round(down_for, 1),
        "ready_after_start_s": round(ready_after, 2),
        "all_active_after_ready_s": round(active_after, 2),
    }
    print(f"\nkill -9 figures: {json.dumps(figures)}")


# -- partitions --------------------------------------------------------------------------------------------------
def partition_rules(node_address: str, verdict: str) -> str:
    """Cut the controller's port between one node and the controller, both ways, in the router namespace: `drop`
    (packets vanish: each attempt waits for its timeout) or `reject` (a TCP reset: each attempt fails at once).
    Each new connection attempt's source port is recorded, every cut packet counted."""
    match_in = f"ip saddr {node_address} tcp dport {CONTROLLER_PORT}"
    action = "drop" if verdict == "drop" else "reject with tcp reset"
    # The reset the router sends back passes its output hook too: with `reject`, only the controller's own packets
    # (an answer on a connection opened before the cut) are dropped on the way out, not the resets.
    out_match = "tcp flags & rst == 0" if verdict == "reject" else ""
    return f"""
table inet {TABLE} {{
    set attempts {{ type inet_service; flags dynamic; size 65535; }}
    counter cut_in {{ }}
    counter cut_out {{ }}
    chain input {{
        type filter hook input priority -50; policy accept;
        {match_in} tcp flags & (syn | ack) == syn add @attempts {{ tcp sport }}
        {match_in} counter name cut_in {action}
    }}
    chain output {{
        type filter hook output priority -50; policy accept;
        ip daddr {node_address} tcp sport {CONTROLLER_PORT} {out_match} counter name cut_out drop
    }}
}}
"""


def nft(router_ns: str, *args: str, stdin: str | None = None, check: bool = True) -> str:
    done = subprocess.run(
        ["ip", "netns", "exec", router_ns, "nft", *args], input=stdin, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0 or not check, done.stderr
    return done.stdout


@dataclass
class Cut:
    """A partition in force; `counts` and the window's wall-clock bounds are filled in when it is lifted."""

    node: NodePlan
    started: float = 0.0  # time.time()
    ended: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@contextlib.contextmanager
def cut_off(lab: Lab, node: NodePlan, verdict: str) -> Iterator[Cut]:
    """Partition `node` from the controller for the block; lifted (the table deleted) even when the block fails."""
    router_ns = lab.plan.router_netns
    nft(router_ns, "-f", "-", stdin=partition_rules(str(node.address), verdict))
    cut = Cut(node, started=time.time())
    try:
        yield cut
        cut.counts = partition_counts(router_ns)
    finally:
        nft(router_ns, "delete", "table", "inet", TABLE, check=False)
        cut.ended = time.time()


def partition_counts(router_ns: str) -> dict[str, int]:
    data = json.loads(nft(router_ns, "-j", "list", "table", "inet", TABLE))["nftables"]
    counts = {"connection_attempts": 0}
    for item in data:
        if "set" in item and item["set"]["name"] == "attempts":
            counts["connection_attempts"] = len(item["set"].get("elem", []))
        if "counter" in item:
            counts[f"{item['counter']['name']}_packets"] = int(item["counter"]["packets"])
    return counts


def attempts(lab: Lab, node: str, start: float, end: float) -> list[float]:
    """Wall-clock times of the agent's failed attempts in [start, end], from its log (one line each)."""
    times = []
    for line in lab.store.log(f"agent-{node}").read_text(errors="replace").splitlines():
        if RETRY_NOTE not in line:
            continue
        stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if start <= stamp <= end:
            times.append(stamp)
    return times


def add_pod_while_cut(lab: Lab, node: NodePlan) -> str:
    """A pod added through the CNI plugin on the cut-off node reaches a pod on another node, both ways."""
    state = lab.state
    pod = members.attach_pod(node, pod_plan(lab.name, node.index, PODS + 1), lab.store, state)
    assert pod.ip is not None
    far = state.node_pods[lab.plan.nodes[node.index % NODES].name][0]
    for netns, target in ((pod.netns, str(far.ip)), (far.netns, pod.ip)):
        sock = socket_in(netns, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        try:
            assert icmp.reachable(sock, target), f"{netns} cannot reach {target}"
        finally:
            sock.close()
    return str(pod.ip)


def assert_healed(lab: Lab, node: NodePlan, before: dict[str, dict[str, Any]], revision: int) -> float:
    """`active` again within HEAL_LIMIT with the same subnet and generation, nothing released or re-registered;
    the seconds it took."""
    heal_s = wait_until(lambda: lab.nodes()[node.name]["state"] == "active", timeout=HEAL_LIMIT + 15)
    assert heal_s <= HEAL_LIMIT, f"{node.name} took {heal_s:.1f}s to be active again"
    assert identities(lab.nodes()) == identities(before)
    kinds = [(e["type"], e["node"]) for e in lab.events_since(revision)]
    assert not [k for k in kinds if k[0] in ("node.released", "node.registered")], kinds
    return heal_s


@pytest.mark.timeout(PARTITION_SECONDS + 300)
def test_partition_of_one_node_for_120_s(lab: Lab) -> None:
    node = lab.plan.nodes[0]
    before, revision = lab.nodes(), lab.revision()
    seen: list[tuple[float, str]] = []
    added = None
    with watched(lab) as traffic:
        time.sleep(2.0)
        with cut_off(lab, node, "drop") as cut:
            while (elapsed := time.time() - cut.started) < PARTITION_SECONDS:
                seen.append((elapsed, str(lab.nodes()[node.name]["state"])))
                if added is None and seen[-1][1] == "stale":
                    added = add_pod_while_cut(lab, node)
                time.sleep(1.0)
        heal_s = assert_healed(lab, node, before, revision)
        time.sleep(3.0)
    figures = assert_data_plane_held(traffic)
    states = {state for _, state in seen}
    assert "stale" in states, f"the partition never crossed the stale threshold: {seen[-5:]}"
    assert "released" not in states
    assert added is not None, f"no pod was added while {node.name} was cut off"
    tried = attempts(lab, node.name, cut.started, cut.ended)
    # The agent's own count and the router's agree (a retry on a kept-alive connection sends no SYN).
    assert tried and cut.counts["connection_attempts"] > 0 and cut.counts["cut_in_packets"] > 0, cut.counts
    assert abs(len(tried) - cut.counts["connection_attempts"]) <= 2, (len(tried), cut.counts)
    rate = max(len(tried), cut.counts["connection_attempts"]) / cut.seconds
    assert rate <= 1.0, (len(tried), cut.counts, cut.seconds)
    kinds = [(e["type"], e["node"]) for e in lab.events_since(revision)]
    assert ("node.stale", node.name) in kinds and ("node.renewed", node.name) in kinds, kinds
    figures |= {
        "partition_s": round(cut.seconds, 1),
        "stale_after_s": next(round(t, 1) for t, s in seen if s == "stale"),
        "agent_attempts": len(tried),
        **cut.counts,
        "requests_per_s": round(rate, 3),
        "active_after_heal_s": round(heal_s, 2),
        "pod_added_while_cut": added,
    }
    print(f"\npartition figures: {json.dumps(figures)}")


@pytest.mark.timeout(REFUSED_SECONDS + 300)
def test_refused_connections_are_paced_by_the_back_off(lab: Lab) -> None:
    """With every attempt failing at once, nothing but the back-off spaces them: they must spread out to the cap
    (>= RETRY_CAP / 2 apart from the fifth on) and never wait longer than the cap."""
    node = lab.plan.nodes[1]
    before, revision = lab.nodes(), lab.revision()
    with watched(lab) as traffic:
        time.sleep(2.0)
        with cut_off(lab, node, "reject") as cut:
            time.sleep(REFUSED_SECONDS)
        heal_s = assert_healed(lab, node, before, revision)
        time.sleep(3.0)
    figures = assert_data_plane_held(traffic)
    tried = attempts(lab, node.name, cut.started, cut.ended)
    gaps = [b - a for a, b in itertools.pairwise(tried)]
    assert len(tried) >= 5, f"only {len(tried)} failed attempts in {cut.seconds:.0f}s"
    assert all(g >= RETRY_CAP / 2 - 0.1 for g in gaps[4:]), gaps  # failures >= 5: d = cap, delay in [cap/2, cap]
    assert max(gaps) <= RETRY_CAP + 1.0, gaps
    rate = len(tried) / cut.seconds
    assert rate <= 1.0, (len(tried), cut.seconds)
    figures |= {
        "refused_s": round(cut.seconds, 1),
        "agent_attempts": len(tried),
        **cut.counts,
        "requests_per_s": round(rate, 3),
        "gaps_s": [round(g, 1) for g in gaps],
        "active_after_heal_s": round(heal_s, 2),
    }
    print(f"\nrefused figures: {json.dumps(figures)}")
