"""What the agent puts in its heartbeat for the integrity check: the bridge as the kernel has it (read in a real
namespace), sent as the optional body; no bridge -> no body (what an older controller or agent expects)."""

from __future__ import annotations

import json

import httpx

from hubnet.linux.netns import run_in
from hubnet.node.agent.client import ControllerClient
from hubnet.node.agent.netsetup import bridge_state
from tests.support.netns import netns, sh
from tests.support.prereq import need_root_netns
from tests.support.records import node_json


def test_bridge_state_reads_the_kernel() -> None:
    need_root_netns()
    with netns("agt") as ns:
        assert run_in(ns, lambda: bridge_state("hnt-br0")) == {"name": "hnt-br0", "addresses": []}
        sh("ip", "link", "add", "hnt-br0", "type", "bridge", ns=ns)
        sh("ip", "addr", "add", "10.244.7.1/24", "dev", "hnt-br0", ns=ns)
        sh("ip", "addr", "add", "10.9.9.9/16", "dev", "hnt-br0", ns=ns)
        state = run_in(ns, lambda: bridge_state("hnt-br0"))
    assert state["name"] == "hnt-br0"
    assert sorted(state["addresses"]) == ["10.244.7.1/24", "10.9.9.9/16"]


def test_heartbeat_sends_the_bridge_only_when_given() -> None:
    bodies: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(200, json=node_json(name="n1"))

    client = ControllerClient("http://controller", transport=httpx.MockTransport(answer))
    bridge = {"name": "v-net-0", "addresses": ["10.244.1.1/24"]}
    client.heartbeat(name="n1", secret="s", bridge=bridge)
    client.heartbeat(name="n1", secret="s")
    client.close()
    assert json.loads(bodies[0]) == {"bridge": bridge}
    assert bodies[1] == b""
