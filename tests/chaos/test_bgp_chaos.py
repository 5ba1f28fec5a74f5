"""The data plane does not depend on the BGP speaker: chaos on a real lab whose router is BIRD 2 or FRR
(`hubnet lab up --router bird|frr`, 2 nodes x 2 pods, dual-stack), learning every node route over BGP from the
controller's gobgpd, which runs in its own namespace on the underlay.

Every pod pings every pod on the other node at 10/s for the whole of each test, each request counted, and the
router's kernel table is sampled every 0.1 s:
- the controller is killed with SIGKILL (its gobgpd dies with it: no NOTIFICATION, so the router keeps the routes
  under graceful restart) and started again HUBNET_CHAOS_BGP_DOWN_SECONDS (15) later; meanwhile a second
  controller process on the same database deletes a node (`ghost`, registered without an agent): 0 requests lost,
  the router never holds fewer than every live node's two routes, and the ghost's routes are withdrawn within 30 s
  of the controller coming back (the router's own restart timer, 120 s, could not have done it);
- the controller is stopped the way an upgrade stops it (SIGTERM to its process group) and started again: the
  same, 0 lost.
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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from hubnet.lab import members, procs
from hubnet.lab.controller import ControllerError, LabController
from hubnet.lab.plan import make_plan
from hubnet.lab.state import StateStore
from tests.chaos.support import env_int
from tests.chaos.test_lab_chaos import Lab, RouteSampler, assert_data_plane_held, wait_until, watched
from tests.e2e.conftest import UP_TIMEOUT, hubnet, lab_name, need_lab, sh
from tests.support.prereq import need_programs

pytestmark = [pytest.mark.e2e, pytest.mark.netns, pytest.mark.serial]
NODES, PODS = 2, 2
DOWN_SECONDS = env_int("HUBNET_CHAOS_BGP_DOWN_SECONDS", 15)
WITHDRAW_WITHIN = 30.0  # seconds from the controller's start until a node deleted meanwhile is gone (measured 3-6)
ROUTER_PROTO = {"bird": "bird", "frr": "bgp"}  # how each daemon marks the routes it installs
GHOST = ("192.168.1.200", "fd00:192:168:1::200")  # on the lab's underlay, no agent behind it
SPARE_PORT = 6781  # the second controller process (the "other replica") listens here, beside the lab's


@dataclass
class BgpLab(Lab):
    kind: str = "bird"

    def controller(self) -> LabController:
        return LabController.of(self.plan, self.state.admin_token, timeout=3.0)

    def sampler(self, skip: tuple[str, ...] = ()) -> RouteSampler:
        """Counts the live nodes' routes only (`skip`: the ghost's, which must go)."""
        return RouteSampler(self.plan.router_netns, ROUTER_PROTO[self.kind], ("-4", "-6"), frozenset(skip))

    def router_routes(self) -> set[str]:
        """'prefix via hop' of every route the router's daemon installed, both families."""
        found = set()
        for family in ("-4", "-6"):
            out = sh("ip", family, "route", "show", "proto", ROUTER_PROTO[self.kind], ns=self.plan.router_netns)
            found |= {" ".join(line.split()[:3]) for line in out.splitlines() if " via " in line}
        return found

    def speaker_pids(self, controller: int) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(controller), "-x", "gobgpd"], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]


@pytest.fixture(scope="module", params=sorted(ROUTER_PROTO))
def lab(request: pytest.FixtureRequest) -> Iterator[BgpLab]:
    need_lab()
    need_programs("gobgpd", "bird", "/usr/lib/frr/bgpd")
    kind = str(request.param)
    name = lab_name(f"bgp{kind[0]}")
    made = None
    try:
        up = ("lab", "up", "--name", name, "--nodes", str(NODES), "--pods", str(PODS), "--router", kind)
        hubnet(*up, timeout=UP_TIMEOUT)
        made = BgpLab(name, make_plan(name, NODES, PODS, router=kind), StateStore(name), kind=kind)
        yield made
    finally:
        hubnet("lab", "down", "--name", name, check=False)
        for pid in made.spawned if made else []:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def all_programmed(lab: BgpLab, count: int = NODES) -> bool:
    try:
        nodes = lab.nodes()
    except ControllerError:
        return False
    live = [n for n in nodes.values() if n["state"] != "released"]
    return len(live) == count and all(n["route_state"] == "programmed" for n in live)


def register_ghost(lab: BgpLab) -> tuple[str, str]:
    """A node without an agent (its lease goes stale; stale nodes stay announced): its two subnets."""
    boot = LabController.of(lab.plan, lab.state.bootstrap_token, timeout=5.0)
    body = {"name": "ghost", "address": GHOST[0], "addresses": list(GHOST), "secret": secrets.token_hex(32)}
    node: dict[str, Any] = boot.post("/v1/nodes", body)
    return str(node["subnets"][0]), str(node["subnets"][1])


def delete_through_another_controller(lab: BgpLab, name: str) -> None:
    """What another controller replica on the same database does while ours is down: a second `hubnet server`
    (no route backend) on the lab's SQLite file deletes the node through the API, then stops."""
    env = members.controller_env(lab.plan, lab.store, lab.state)
    host = str(lab.plan.controller_address)
    env |= {"HUBNET_ROUTE_BACKEND": "none", "HUBNET_LISTEN": f"{host}:{SPARE_PORT}"}
    log = lab.store.dir / "spare-controller.log"
    pid = procs.spawn(lab.plan.controller_netns, [*members.hubnet_argv(), "server"], log, env)
    lab.spawned.append(pid)
    try:
        script = (
            "import sys, time, httpx\n"
            f"url = 'http://{host}:{SPARE_PORT}'\n"
            "for _ in range(300):\n"
            "    try:\n"
            "        if httpx.get(url + '/readyz', timeout=1).status_code == 200: break\n"
            "    except httpx.HTTPError: pass\n"
            "    time.sleep(0.1)\n"
            f"auth = {{'Authorization': 'Bearer {lab.state.admin_token}'}}\n"
            f"r = httpx.delete(url + '/v1/nodes/{name}', headers=auth)\n"
            "sys.exit(0 if r.status_code == 204 else f'{r.status_code} {r.text}')\n"
        )
        argv = ["ip", "netns", "exec", lab.plan.controller_netns, sys.executable, "-c", script]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"delete through the spare controller: {done.stderr}{done.stdout}"
    finally:
        procs.stop([pid])


def gone_or_restarted(lab: BgpLab, pid: int, speakers: list[int]) -> None:
    """The controller and its gobgpd are both gone (PDEATHSIG: the speaker never outlives its controller)."""
    wait_until(lambda: not procs.alive(pid), timeout=15)
    wait_until(lambda: not any(procs.alive(s) for s in speakers), timeout=5)
    assert not lab.controller_up()


@pytest.mark.timeout(DOWN_SECONDS + 300)
def test_controller_kill_9_keeps_every_route_and_withdraws_what_was_deleted_meanwhile(lab: BgpLab) -> None:
    wait_until(lambda: all_programmed(lab), timeout=60)
    ghost = register_ghost(lab)
    wait_until(lambda: all(any(r.startswith(f"{s} ") for r in lab.router_routes()) for s in ghost), timeout=30)
    pid = lab.state.processes["controller"]
    speakers = lab.speaker_pids(pid)
    assert speakers, "the controller runs no gobgpd"
    try:
        with watched(lab, lab.sampler(skip=ghost)) as traffic:
            time.sleep(2.0)
            os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            gone_or_restarted(lab, pid, speakers)
            delete_through_another_controller(lab, "ghost")
            time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - killed)))
            down_for = time.monotonic() - killed
            assert all(any(r.startswith(f"{s} ") for r in lab.router_routes()) for s in ghost), "GR kept nothing"
            lab.start_controller()
            back = time.monotonic()
            # Well before the router's own restart timer (120 s from the kill) could have removed it: the new
            # speaker's table and End-of-RIB do.
            withdrawn_after = wait_until(
                lambda: not any(r.startswith(f"{s} ") for s in ghost for r in lab.router_routes()),
                timeout=WITHDRAW_WITHIN,
            )
            programmed_after = time.monotonic() - back
            wait_until(lambda: all_programmed(lab), timeout=60)
            time.sleep(3.0)  # traffic after the recovery too
    finally:
        if not procs.alive(lab.state.processes["controller"]):
            lab.start_controller()
    figures = assert_data_plane_held(traffic, routes=2 * NODES)
    assert down_for >= DOWN_SECONDS
    figures |= {
        "router": lab.kind,
        "down_s": round(down_for, 1),
        "ghost_withdrawn_after_start_s": round(withdrawn_after, 2),
        "programmed_after_start_s": round(programmed_after, 2),
    }
    print(f"\nBGP kill -9 figures: {json.dumps(figures)}")


@pytest.mark.timeout(240)
def test_controller_stopped_for_an_upgrade_loses_no_pod_packet(lab: BgpLab) -> None:
    wait_until(lambda: all_programmed(lab), timeout=60)
    pid = lab.state.processes["controller"]
    speakers = lab.speaker_pids(pid)
    assert speakers, "the controller runs no gobgpd"
    try:
        with watched(lab, lab.sampler()) as traffic:
            time.sleep(2.0)
            # SIGTERM to the whole process group, as systemd's default KillMode=control-group or Ctrl-C does: the
            # controller stops, its gobgpd (in a session of its own) gets no SIGTERM and dies silently with it
            os.killpg(pid, signal.SIGTERM)
            stopped = time.monotonic()
            gone_or_restarted(lab, pid, speakers)
            time.sleep(max(0.0, 5.0 - (time.monotonic() - stopped)))
            lab.start_controller()
            back_after = wait_until(lambda: all_programmed(lab), timeout=60)
            time.sleep(3.0)
    finally:
        if not procs.alive(lab.state.processes["controller"]):
            lab.start_controller()
    figures = assert_data_plane_held(traffic, routes=2 * NODES)
    figures |= {"router": lab.kind, "programmed_after_start_s": round(back_after, 2)}
    print(f"\nBGP stop/start figures: {json.dumps(figures)}")
