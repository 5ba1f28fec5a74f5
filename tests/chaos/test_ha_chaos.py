"""No single point of failure: chaos on the HA lab (`hubnet lab up --routers 2 --controllers 2`, 3 nodes x 2 pods:
PostgreSQL, controller replicas c1 and c2, routers r1 (VRRP master) and r2 each with a router agent and keepalived).

Every pod pings every pod on the other nodes at 10/s through each test, each request counted, and the routers'
tables are sampled every 0.1 s:
- c1 is killed with SIGKILL and started again 10 s later: 0 requests lost, no router loses a route; a node joining
  meanwhile, with both controllers' URLs in that order, is registered through c2 at once (no back-off) and its
  route is in both routers' kernels;
- the VRRP master r1 dies (its router agent and keepalived killed, its uplink down): loss per flow <= 10 requests
  (1 s of pings), r2 held every route before and throughout; r1 comes back and takes over again, every route on
  both;
- r2's agent is cut from both controllers for 120 s (nftables drop in r2's namespace): r2's table is unchanged
  throughout; a node registered right after the cut is `programmed` only once r2 is `down` (r1 holds its route by
  then), and is in r2's kernel within 5 s of the heal;
- both controllers are killed for 60 s: 0 requests lost, the routers' tables unchanged, every node `active` and
  `programmed` again after they restart.
- 20 foreign routes on each router (10 inside the cluster CIDR) are exactly as they were after all of the above.

Sizes: HUBNET_CHAOS_ROUTER_CUT_SECONDS (120), HUBNET_CHAOS_CONTROLLERS_DOWN_SECONDS (60).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import ip_network
from typing import Any

import pytest

from hubnet.lab import ha, members, procs, vrrp
from hubnet.lab.controller import ControllerError, LabController
from hubnet.lab.plan import CONTROLLER_PORT, LabPlan, MemberPlan, make_plan
from hubnet.lab.state import LabState, StateStore
from tests.chaos.pings import PacedPings, Stream, stop_all, summary
from tests.chaos.support import env_int
from tests.chaos.test_lab_chaos import MAX_SEND_GAP, SAMPLE_EVERY, RouteSampler
from tests.e2e.conftest import UP_TIMEOUT, hubnet, lab_name, need_lab, sh

pytestmark = [pytest.mark.e2e, pytest.mark.netns, pytest.mark.serial]
NODES, PODS = 3, 2
CUT_SECONDS = env_int("HUBNET_CHAOS_ROUTER_CUT_SECONDS", 120)
BOTH_DOWN_SECONDS = env_int("HUBNET_CHAOS_CONTROLLERS_DOWN_SECONDS", 60)
REPLICA_DOWN_SECONDS = 10
FAILOVER_LOSS = 10  # requests per flow at 10/s: one second of pings
HEAL_PROGRAMMED = 5.0  # seconds from lifting the cut until the node registered meanwhile is in r2's kernel
DOWN_SECONDS = 10  # HUBNET_ROUTER_DOWN_SECONDS (the controllers' default)
TABLE = "hnt_router_cut"
# A veth pair inside each router namespace (this kernel has no dummy links): routes via it survive the uplink going
# down, so a router failure does not flush them.
FOREIGN_LINK, FOREIGN_PEER = "hnt-foreign0", "hnt-foreign1"
# Ghost nodes: registered over HTTP, no agent behind them (their routes are what the routers must hold).
GHOSTS = {
    "ghost-join": ("192.168.1.201", "fd00:192:168:1::201"),
    "ghost-cut": ("192.168.1.202", "fd00:192:168:1::202"),
}


@dataclass
class HaLab:
    name: str
    plan: LabPlan
    store: StateStore
    foreign: dict[str, list[str]] = field(default_factory=dict)  # router -> its foreign routes as `ip` lists them

    @property
    def state(self) -> LabState:
        state = self.store.load()
        assert state is not None, f"lab {self.name} has no state file"
        return state

    def member(self, name: str) -> MemberPlan:
        return self.plan.member(name)

    def client(self, member: str = "c1", token: str | None = None) -> LabController:
        state = self.state
        return ha.client_of(self.member(member), token or state.admin_token, timeout=3.0)

    def any_client(self) -> LabController:
        """The first controller that answers `/readyz`."""
        for c in self.plan.controllers:
            client = self.client(c.name)
            with contextlib.suppress(ControllerError):
                client.get("/readyz")
                return client
        pytest.fail("no controller answers")

    def nodes(self) -> dict[str, dict[str, Any]]:
        return {n["name"]: n for n in self.any_client().nodes()}

    def routers(self) -> dict[str, dict[str, Any]]:
        return {r["name"]: r for r in self.any_client().get("/v1/routers")["items"]}

    def pods(self) -> dict[str, list[tuple[str, str, str]]]:
        return {node: [(p.name, p.netns, str(p.ip)) for p in pods] for node, pods in self.state.node_pods.items()}

    def controller_pid(self, name: str) -> int:
        return self.state.processes[f"controller-{name}"]

    def start_controller(self, name: str) -> None:
        state = self.state
        pid = members.start_controller(self.plan, self.store, state, self.member(name))
        self.client(name).wait_ready(60, alive=lambda: procs.alive(pid))

    def events_since(self, revision: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while items := self.any_client().get(f"/v1/events?since={revision}&limit=1000")["items"]:
            found.extend(items)
            revision = int(items[-1]["revision"])
        return found

    def revision(self) -> int:
        return int(self.any_client().get("/v1/events?since=0&limit=1")["revision"])


def add_foreign_routes(router: MemberPlan) -> list[str]:
    """20 routes hubnet does not own in `router`'s main table, via a veth of their own: 10 inside the cluster CIDR
    (prefixes no node gets in a 5-node lab), 10 outside; half `proto static`, half `proto 99`. Returns them as
    listed."""
    lines = [
        f"link add {FOREIGN_LINK} type veth peer name {FOREIGN_PEER}",
        f"link set {FOREIGN_PEER} up",
        f"link set {FOREIGN_LINK} up",
        f"address add 100.64.0.1/24 dev {FOREIGN_LINK}",
    ]
    for i in range(10):
        proto = "static" if i % 2 else "99"
        lines.append(f"route add 10.244.{240 + i}.0/24 via 100.64.0.{10 + i} proto {proto}")
        lines.append(f"route add 203.0.113.{i}/32 via 100.64.0.{10 + i} proto {proto}")
    subprocess.run(["ip", "-netns", router.netns, "-batch", "-"], input="\n".join(lines) + "\n", text=True, check=True)
    return foreign_routes(router)


def foreign_routes(router: MemberPlan) -> list[str]:
    out = sh("ip", "-4", "route", "show", "dev", FOREIGN_LINK, ns=router.netns)
    return sorted(line.strip() for line in out.splitlines() if "via" in line)


@pytest.fixture(scope="module")
def lab() -> Iterator[HaLab]:
    need_lab()
    name = lab_name("ha")
    made = None
    try:
        hubnet(
            "lab", "up", "--name", name, "--nodes", str(NODES), "--pods", str(PODS),
            "--routers", "2", "--controllers", "2", timeout=UP_TIMEOUT,
        )  # fmt: skip
        made = HaLab(name, make_plan(name, NODES, PODS, routers=2, controllers=2), StateStore(name))
        done = hubnet("lab", "check", "--name", name, "--json", check=False, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]  # `lab check` works unchanged
        for router in made.plan.routers:
            made.foreign[router.name] = add_foreign_routes(router)
            assert len(made.foreign[router.name]) == 20, made.foreign[router.name]
        yield made
    finally:
        hubnet("lab", "down", "--name", name, check=False)


# -- what the tests watch ----------------------------------------------------------------------------------------
@dataclass
class Traffic:
    streams: list[Stream] = field(default_factory=list)
    max_send_gap: float = 0.0
    samples: dict[str, list[int]] = field(default_factory=dict)  # router -> route counts
    seconds: float = 0.0


@contextlib.contextmanager
def watched(lab: HaLab, routers: tuple[str, ...] = ("r1", "r2")) -> Iterator[Traffic]:
    """Pods ping every pod on the other nodes at 10/s; the node routes (proto 44, IPv4) of `routers` are counted
    every SAMPLE_EVERY s (ghost nodes' routes not counted: the tests add and remove them)."""
    pods = lab.pods()
    pingers = []
    for node, items in pods.items():
        remote = [ip for other, others in pods.items() if other != node for _, _, ip in others]
        pingers.extend(PacedPings(pod, netns, remote).start() for pod, netns, _ in items)
    skip = frozenset(str(ip_network(s)) for n in ghost_subnets(lab) for s in n)
    samplers = {r: RouteSampler(lab.member(r).netns, skip=skip) for r in routers}
    for sampler in samplers.values():
        sampler.start()
    traffic = Traffic()
    started = time.monotonic()
    try:
        yield traffic
    finally:
        traffic.seconds = time.monotonic() - started
        for sampler in samplers.values():
            sampler.halt.set()
            sampler.join()
        traffic.streams, traffic.max_send_gap = stop_all(pingers)
        traffic.samples = {r: s.samples for r, s in samplers.items()}
    for r, sampler in samplers.items():
        assert sampler.error is None, f"the route sampler of {r} failed: {sampler.error!r}"


def ghost_subnets(lab: HaLab) -> list[list[str]]:
    """Every family's subnet of the ghost nodes registered now (their routes come and go on purpose)."""
    with contextlib.suppress(ControllerError):
        return [n["subnets"] for name, n in lab.nodes().items() if name in GHOSTS and n["state"] != "released"]
    return []


def held(traffic: Traffic, *, max_loss: int = 0, routers: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Per flow at most `max_loss` requests lost, the pacing held, and every sampled router (or those of `routers`)
    always held every node's route."""
    totals = summary(traffic.streams)
    worst = max((len(s.lost) for s in traffic.streams), default=0)
    lost = {f"{s.source}->{s.target}": len(s.lost) for s in traffic.streams if s.lost}
    assert worst <= max_loss, f"{totals}; lost per flow: {lost}"
    assert traffic.max_send_gap <= MAX_SEND_GAP, f"a pinger paused {traffic.max_send_gap:.2f}s"
    assert totals["sent"] >= 0.9 * 10 * traffic.seconds * len(traffic.streams), totals
    for router, samples in traffic.samples.items():
        if routers is not None and router not in routers:
            continue
        assert len(samples) >= 0.5 * traffic.seconds / SAMPLE_EVERY, f"{router}: {len(samples)} samples"
        assert min(samples) >= NODES, f"{router} lost a route: min {min(samples)} of {NODES}"
    return {**totals, "worst_flow_lost": worst, "max_send_gap_s": round(traffic.max_send_gap, 3)}


def wait_until(cond: Callable[[], bool], timeout: float, step: float = 0.1, what: str = "condition") -> float:
    started = time.monotonic()
    while not cond():
        if time.monotonic() - started > timeout:
            pytest.fail(f"{what} not met within {timeout:.0f}s")
        time.sleep(step)
    return time.monotonic() - started


def routes_of(lab: HaLab, router: str) -> dict[str, str]:
    owned = ha.owned_routes(lab.member(router)) or {}
    return {str(p): str(h) for p, h in owned.items()}


def holds(lab: HaLab, router: str, node: dict[str, Any]) -> bool:
    """`router`'s kernel holds every one of `node`'s routes (each family's subnet via its address)."""
    table = routes_of(lab, router)
    return all(table.get(s) == a for s, a in zip(node["subnets"], node["addresses"], strict=True))


def all_settled(lab: HaLab) -> bool:
    """Every lab node `active` and `programmed`, both routers `up`."""
    try:
        nodes, routers = lab.nodes(), lab.routers()
    except ControllerError:
        return False
    real = [n for name, n in nodes.items() if name not in GHOSTS]
    return (
        len(real) == NODES
        and all(n["state"] == "active" and n["route_state"] == "programmed" for n in real)
        and all(routers.get(r, {}).get("status") == "up" for r in ("r1", "r2"))
    )


def forget(lab: HaLab, name: str) -> None:
    """Delete ghost node `name` (admin), if registered."""
    with contextlib.suppress(ControllerError):
        lab.any_client().request("DELETE", f"/v1/nodes/{name}")


def register_through(lab: HaLab, name: str, urls: list[str]) -> dict[str, Any]:
    """A real process in node-1's namespace registers `name` with the node agent's failover client, trying `urls`
    in order; its answer and how long the call took (s)."""
    address, address6 = GHOSTS[name]
    script = (
        "import json, sys, time\n"
        "from hubnet.node.agent.client import ControllerClient\n"
        "urls, token, name, addresses, secret = json.loads(sys.argv[1])\n"
        "client = ControllerClient(urls, timeout=3.0)\n"
        "started = time.monotonic()\n"
        "node = client.register(token=token, name=name, address=addresses[0], secret=secret, addresses=addresses)\n"
        "print(json.dumps({'seconds': time.monotonic() - started, 'subnets': node.subnets}))\n"
    )
    args = json.dumps([urls, lab.state.bootstrap_token, name, [address, address6], secrets.token_hex(32)])
    done = subprocess.run(
        ["ip", "netns", "exec", lab.plan.nodes[0].netns, sys.executable, "-c", script, args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# -- a controller replica killed ---------------------------------------------------------------------------------
@pytest.mark.timeout(300)
def test_a_replica_killed_loses_no_ping_and_a_node_joins_through_the_other(lab: HaLab) -> None:
    wait_until(lambda: all_settled(lab), 60, what="lab settled")
    pid = lab.controller_pid("c1")
    urls = [c.url for c in lab.plan.controllers]  # c1 first: the dead one
    try:
        with watched(lab) as traffic:
            time.sleep(2.0)
            os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            wait_until(lambda: not procs.alive(pid), 10, what="c1 gone")
            joined = register_through(lab, "ghost-join", urls)
            ghost = lab.nodes()["ghost-join"]
            in_both = wait_until(lambda: holds(lab, "r1", ghost) and holds(lab, "r2", ghost), 5, what="route on both")
            time.sleep(max(0.0, REPLICA_DOWN_SECONDS - (time.monotonic() - killed)))
            lab.start_controller("c1")
            time.sleep(2.0)
    finally:
        if not procs.alive(lab.controller_pid("c1")):
            lab.start_controller("c1")
    figures = held(traffic)
    assert joined["seconds"] < 2.0, f"the registration waited {joined['seconds']:.2f}s for the dead replica"
    wait_until(lambda: lab.nodes()["ghost-join"]["route_state"] == "programmed", 10, what="ghost programmed")
    node = lab.client("c1").get("/v1/nodes/ghost-join")  # the restarted replica serves it too
    assert node["route_states"] == {"r1": "programmed", "r2": "programmed"}, node["route_states"]
    forget(lab, "ghost-join")
    figures |= {"join_through_c2_s": round(joined["seconds"], 3), "route_on_both_routers_s": round(in_both, 2)}
    print(f"\nreplica kill -9 figures: {json.dumps(figures)}")


# -- the VRRP master dies ----------------------------------------------------------------------------------------
@pytest.mark.timeout(300)
def test_the_vrrp_master_dies_and_comes_back(lab: HaLab) -> None:
    wait_until(lambda: all_settled(lab), 60, what="lab settled")
    assert vrrp.master(lab.plan) == "r1"
    r2_before = routes_of(lab, "r2")
    assert r2_before == routes_of(lab, "r1") and len(r2_before) >= NODES * len(lab.plan.families), r2_before
    state = lab.state
    with watched(lab, routers=("r2",)) as failover:
        time.sleep(2.0)
        started = time.monotonic()
        ha.fail_router(state, "r1")
        takeover = wait_until(lambda: vrrp.master(lab.plan) == "r2", 5, step=0.02, what="r2 master")
        time.sleep(5.0)
    figures = held(failover, max_loss=FAILOVER_LOSS)
    assert routes_of(lab, "r2") == r2_before
    wait_until(lambda: lab.routers()["r1"]["status"] == "down", DOWN_SECONDS + 15, what="r1 down")
    down_at = time.monotonic()
    with watched(lab, routers=("r2",)) as back:
        ha.restore_router(lab.state, "r1")
        wait_until(lambda: vrrp.master(lab.plan) == "r1", 10, step=0.05, what="r1 master again")
        time.sleep(3.0)
    back_figures = held(back, max_loss=FAILOVER_LOSS)
    wait_until(lambda: all_settled(lab), 30, what="r1 up again")
    assert routes_of(lab, "r1") == routes_of(lab, "r2") == r2_before
    figures |= {
        "takeover_s": round(takeover, 3),
        "r1_marked_down_after_s": round(down_at - started, 2),
        "return_worst_flow_lost": back_figures["worst_flow_lost"],
    }
    print(f"\nVRRP failover figures: {json.dumps(figures)}")


# -- a router agent cut from every controller --------------------------------------------------------------------
def cut_rules() -> str:
    """r2's namespace: nothing to or from the controllers' port (the agent's requests vanish, as in a partition)."""
    return f"""
table inet {TABLE} {{
    counter cut {{ }}
    chain output {{
        type filter hook output priority -50; policy accept;
        tcp dport {CONTROLLER_PORT} counter name cut drop
    }}
    chain input {{
        type filter hook input priority -50; policy accept;
        tcp sport {CONTROLLER_PORT} counter name cut drop
    }}
}}
"""


def nft(netns: str, *args: str, stdin: str | None = None, check: bool = True) -> str:
    done = subprocess.run(
        ["ip", "netns", "exec", netns, "nft", *args], input=stdin, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0 or not check, done.stderr
    return done.stdout


@pytest.mark.timeout(CUT_SECONDS + 300)
def test_a_router_agent_cut_from_every_controller_keeps_its_table(lab: HaLab) -> None:
    wait_until(lambda: all_settled(lab), 60, what="lab settled")
    r2 = lab.member("r2")
    before = routes_of(lab, "r2")
    revision = lab.revision()
    tables: list[dict[str, str]] = []
    programmed_at = None
    with watched(lab) as traffic:
        nft(r2.netns, "-f", "-", stdin=cut_rules())
        cut_at = time.monotonic()
        try:
            ghost = lab.any_client().post(  # right after the cut: r2 is still `up` and cannot hold its route
                "/v1/nodes",
                {
                    "name": "ghost-cut",
                    "address": GHOSTS["ghost-cut"][0],
                    "addresses": list(GHOSTS["ghost-cut"]),
                    "secret": secrets.token_hex(32),
                },
            )
            while time.monotonic() - cut_at < CUT_SECONDS:
                tables.append(routes_of(lab, "r2"))
                if programmed_at is None and lab.nodes()["ghost-cut"]["route_state"] == "programmed":
                    programmed_at = time.monotonic() - cut_at
                    assert holds(lab, "r1", ghost), "programmed while the only up router lacks the route"
                time.sleep(1.0)
            counted = json.loads(nft(r2.netns, "-j", "list", "counter", "inet", TABLE, "cut"))
        finally:
            nft(r2.netns, "delete", "table", "inet", TABLE, check=False)
        healed = time.monotonic()
        caught_up = wait_until(lambda: holds(lab, "r2", ghost), HEAL_PROGRAMMED + 10, what="ghost on r2")
        up_again = wait_until(lambda: lab.routers()["r2"]["status"] == "up", 30, what="r2 up again")
        time.sleep(2.0)
    figures = held(traffic)
    assert all(t == before for t in tables), "r2's table changed while its agent was cut off"
    assert programmed_at is not None, "the node registered during the cut never became programmed"
    packets = next(i["counter"]["packets"] for i in counted["nftables"] if "counter" in i)
    assert packets > 0, "the cut never dropped anything: the agent did not try"
    # The readiness rule: programmed only after r2 was marked down (r1 alone counted by then).
    events = [(e["type"], e["node"], e["data"]) for e in lab.events_since(revision)]
    order = [t for t, n, d in events if (t == "router.down" and d.get("router") == "r2") or (n == "ghost-cut")]
    assert "router.down" in order and "route.programmed" in order, events
    assert order.index("router.down") < order.index("route.programmed"), order
    assert caught_up <= HEAL_PROGRAMMED, f"r2 took {caught_up:.1f}s after the heal to program the new node"
    assert (time.monotonic() - healed) < 60
    forget(lab, "ghost-cut")
    figures |= {
        "cut_s": round(healed - cut_at, 1),
        "programmed_after_cut_s": round(programmed_at, 1),
        "r2_table_samples": len(tables),
        "dropped_packets": packets,
        "on_r2_after_heal_s": round(caught_up, 2),
        "r2_up_after_heal_s": round(caught_up + up_again, 2),
    }
    print(f"\nrouter agent cut figures: {json.dumps(figures)}")


# -- both controllers down ---------------------------------------------------------------------------------------
@pytest.mark.timeout(BOTH_DOWN_SECONDS + 300)
def test_both_controllers_down_the_data_plane_holds(lab: HaLab) -> None:
    wait_until(lambda: all_settled(lab), 60, what="lab settled")
    tables = {r: routes_of(lab, r) for r in ("r1", "r2")}
    pids = {c.name: lab.controller_pid(c.name) for c in lab.plan.controllers}
    try:
        with watched(lab) as traffic:
            time.sleep(2.0)
            for pid in pids.values():
                os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            while time.monotonic() - killed < BOTH_DOWN_SECONDS:
                assert {r: routes_of(lab, r) for r in tables} == tables, "a router's table changed"
                time.sleep(1.0)
            down_for = time.monotonic() - killed
            for name in pids:
                lab.start_controller(name)
            settled = wait_until(lambda: all_settled(lab), 60, what="every node active and programmed")
            time.sleep(2.0)
    finally:
        for name in pids:
            if not procs.alive(lab.controller_pid(name)):
                lab.start_controller(name)
    figures = held(traffic)
    assert {r: routes_of(lab, r) for r in tables} == tables
    figures |= {"down_s": round(down_for, 1), "settled_after_restart_s": round(settled, 2)}
    print(f"\nboth controllers down figures: {json.dumps(figures)}")


def test_foreign_routes_untouched_through_all_of_the_above(lab: HaLab) -> None:
    for router in lab.plan.routers:
        assert foreign_routes(router) == lab.foreign[router.name], router.name
