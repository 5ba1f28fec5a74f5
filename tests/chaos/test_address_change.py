"""A node's underlay address changes under traffic (issue 17 item 9): a real lab (`hubnet lab up`, 3 nodes x 1 pod,
IPv4), node-2 renumbered from 192.168.1.12 to 192.168.1.22 on the same LAN, the way docs/node.md says an operator
(or a DHCP hook) does it:

1. add the new address to the uplink (the old one stays);
2. restart the agent with `--address NEW` (SIGTERM leaves the node network and the pods in place; the new agent
   re-joins from the new address, the controller keeps the node's subnet and generation and moves its route);
3. once the router's route to the node's subnet goes via the new address (one netlink replace, never delete + add),
   remove the old address.

Every pod pings every pod on the other nodes at 10/s for the whole test, each request counted: at most 1 request
lost per flow (the measured figure is 0), the router never holds fewer than every node's route, the node keeps its
subnet and generation, and the controller records one `node.address_changed` from the old address to the new.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from ipaddress import IPv4Address

import pytest

from hubnet.lab import members
from hubnet.lab.controller import ControllerError
from hubnet.lab.plan import NODE_UPLINK, UNDERLAY, make_plan
from hubnet.lab.state import StateStore
from tests.chaos.pings import summary
from tests.chaos.test_lab_chaos import MAX_SEND_GAP, SAMPLE_EVERY, Lab, wait_until, watched
from tests.e2e.conftest import UP_TIMEOUT, hubnet, lab_name, need_lab, sh

pytestmark = [pytest.mark.e2e, pytest.mark.netns, pytest.mark.serial]
NODES, PODS = 3, 1
MAX_LOSS = 1  # requests per flow at 10/s
RENUMBER = 10  # node-2: 192.168.1.12 -> 192.168.1.22


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    need_lab()
    name = lab_name("addr")
    try:
        hubnet(
            "lab", "up", "--name", name, "--nodes", str(NODES), "--pods", str(PODS), "--ipv4-only",
            timeout=UP_TIMEOUT,
        )  # fmt: skip
        yield Lab(name, make_plan(name, NODES, PODS, families=(4,)), StateStore(name))
    finally:
        hubnet("lab", "down", "--name", name, check=False)


def router_route(lab: Lab, subnet: str) -> list[str]:
    """The router's kernel routes for `subnet` (one line each)."""
    return sh("ip", "-4", "route", "show", subnet, ns=lab.plan.router_netns).strip().splitlines()


def moved(lab: Lab, name: str, new: str, subnet: str) -> bool:
    """The controller has the node at `new`, its route programmed, and the router's only route to its subnet goes
    via `new`."""
    try:
        node = lab.nodes()[name]
    except ControllerError:
        return False
    if node["address"] != new or node["route_state"] != "programmed":
        return False
    routes = router_route(lab, subnet)
    return len(routes) == 1 and f" via {new} " in f"{routes[0]} "


@pytest.mark.timeout(UP_TIMEOUT + 60)  # the module's lab is built inside it
def test_a_node_renumbered_under_traffic_loses_at_most_one_ping_per_flow(lab: Lab) -> None:
    node = lab.plan.nodes[1]
    old, new = node.address, IPv4Address(int(node.address) + RENUMBER)
    assert new in UNDERLAY and new not in {n.address for n in lab.plan.nodes}
    prefix = UNDERLAY.prefixlen
    before = lab.nodes()[node.name]
    subnet = str(before["subnet"])
    assert before["address"] == str(old) and before["route_state"] == "programmed", before
    revision = lab.revision()
    with watched(lab) as traffic:
        time.sleep(1.0)
        started = time.monotonic()
        sh("ip", "addr", "add", f"{new}/{prefix}", "dev", NODE_UPLINK, ns=node.netns)
        members.restart_agent(lab.plan, replace(node, address=new), lab.store, lab.state)
        moved_s = wait_until(lambda: moved(lab, node.name, str(new), subnet), timeout=30, step=0.05)
        sh("ip", "addr", "del", f"{old}/{prefix}", "dev", NODE_UPLINK, ns=node.netns)
        changed_s = time.monotonic() - started
        time.sleep(2.0)  # traffic on the new address alone
    totals = summary(traffic.streams)
    per_flow = {f"{s.source}->{s.target}": len(s.lost) for s in traffic.streams}
    worst = max(per_flow.values())
    assert worst <= MAX_LOSS, f"{totals}; lost per flow: {per_flow}"
    assert traffic.max_send_gap <= MAX_SEND_GAP, f"a pinger paused {traffic.max_send_gap:.2f}s"
    assert totals["sent"] >= 0.9 * 10 * traffic.seconds * len(traffic.streams), totals
    samples = traffic.route_samples
    assert len(samples) >= 0.5 * traffic.seconds / SAMPLE_EVERY, f"{len(samples)} samples"
    assert min(samples) >= NODES, f"the router lost a route: min {min(samples)} of {NODES}"
    # Only the address moved: same subnet, same generation, still active; the old next hop is gone.
    after = lab.nodes()[node.name]
    assert (after["subnet"], after["generation"], after["state"]) == (subnet, before["generation"], "active"), after
    assert sh("ip", "-4", "-o", "addr", "show", "dev", NODE_UPLINK, ns=node.netns).count(" inet ") == 1
    assert not any(f" via {old} " in f"{r} " for r in router_route(lab, subnet))
    events = [e for e in lab.events_since(revision) if e["node"] == node.name]
    kinds = [e["type"] for e in events]
    assert kinds.count("node.address_changed") == 1 and "node.registered" not in kinds, kinds
    change = next(e for e in events if e["type"] == "node.address_changed")
    assert (change["data"]["old"], change["data"]["new"]) == (str(old), str(new)), change
    figures = {
        **totals,
        "worst_flow_lost": worst,
        "lost_per_flow": per_flow,
        "route_moved_after_s": round(moved_s, 2),
        "renumbered_in_s": round(changed_s, 2),
        "max_send_gap_s": round(traffic.max_send_gap, 3),
    }
    print(f"\naddress change figures: {json.dumps(figures)}")
