"""DEL is idempotent in every state a runtime can call it in, and never leaks — even with the agent down."""

from __future__ import annotations

import json
import signal
from ipaddress import IPv4Network

import pytest

from hubnet.node.agent.podnet import host_veth
from hubnet.node.cnilib import ipam
from hubnet.node.runtime import PluginError
from tests.netns.node.support import Node, drop_ns, nsrun

pytestmark = pytest.mark.netns


def _del_raw(node: Node, cid: str, netns: str, prev: dict[str, object] | None) -> tuple[int, object]:
    cfg = node.plugin_config(**({"prevResult": prev} if prev else {}))
    env = {"CNI_COMMAND": "DEL", "CNI_CONTAINERID": cid, "CNI_NETNS": netns, "CNI_IFNAME": "eth0", "CNI_PATH": node.bin}
    return node.exec_plugin(env, json.dumps(cfg))


def _state(node: Node, name: str) -> tuple[str, str, dict[str, object] | None]:
    """Bring attachment `name` into a state; returns (container id, CNI_NETNS for DEL, prevResult)."""
    pod = node.new_pod_netns()
    path = pod
    if name == "never added":
        return name.replace(" ", "-"), path, None
    if name == "after failed ADD":
        node.add("blocker", pod)  # eth0 exists in the pod netns: the ADD below fails
        with pytest.raises(PluginError):
            node.runtime.add("failed-add", path, "eth0")
        node.runtime.delete("blocker")
        return "failed-add", path, None
    cid = name.replace(" ", "-")
    result = node.add(cid, pod)
    if name == "netns gone":
        drop_ns(pod)
    if name == "CNI_NETNS empty":
        path = ""
    return cid, path, (None if name == "no prevResult" else result)


STATES = ["after good ADD", "after failed ADD", "never added", "netns gone", "CNI_NETNS empty", "no prevResult"]


@pytest.mark.parametrize("state", STATES)
def test_del_three_times_succeeds_and_leaves_nothing(node: Node, state: str) -> None:
    cid, netns, prev = _state(node, state)
    for attempt in range(3):
        status, out = _del_raw(node, cid, netns, prev)
        assert status == 0, (attempt, out)
    assert node.reservations() == []
    assert node.host_veths() == []


def test_del_with_agent_down_releases_the_reservation(fresh_node: Node) -> None:
    node = fresh_node
    pods = [node.new_pod_netns() for _ in range(2)]
    node.add("down1", pods[0])
    node.add("down2", pods[1])
    node.stop_agent(signal.SIGKILL)
    with pytest.raises(PluginError) as err:
        node.add("down3", node.new_pod_netns())
    assert err.value.code == 11  # try again later
    node.runtime.delete("down1")  # netns still there: the veth stays until the agent sweeps it
    drop_ns(pods[1])
    node.runtime.delete("down2")  # netns gone: the kernel removed the veth with it
    assert node.reservations() == []
    node.start_agent()  # start-up sweep removes the orphaned host veth of down1
    assert node.host_veths() == []
    node.add("after", node.new_pod_netns())
    node.runtime.delete("after")
    assert node.reservations() == []


def test_sweeps_remove_only_hubnet_tagged_veths_and_gc_keeps_valid_attachments(fresh_node: Node) -> None:
    """GC and the start-up sweep delete only bridge ports hubnet tagged (alias `hubnet:<cid>/<ifname>`): another
    component's `veth…` port survives both. GC also keeps a valid attachment whose reservation is missing."""
    node = fresh_node
    nsrun(node.ns, "ip", "link", "add", "vethforeign0", "type", "veth", "peer", "name", "hnt-fpeer0")
    nsrun(node.ns, "ip", "link", "set", "vethforeign0", "master", "v-net-0", "up")
    for cid in ("kept", "stale", "unreserved"):
        node.add(cid, node.new_pod_netns())
    assert "alias hubnet:kept/eth0" in nsrun(node.ns, "ip", "-o", "link", "show", host_veth("kept", "eth0")).stdout
    ipam.Store(node.ipam_dir, IPv4Network(node.subnet)).release("unreserved", "eth0")
    node.runtime.gc([("kept", "eth0"), ("unreserved", "eth0")])
    veths = node.host_veths()
    assert host_veth("stale", "eth0") not in veths
    assert {host_veth("kept", "eth0"), host_veth("unreserved", "eth0"), "vethforeign0"} <= set(veths)
    node.stop_agent()
    node.start_agent()  # start-up sweep: the unreserved one is a leak now, the foreign one is not ours
    veths = node.host_veths()
    assert host_veth("unreserved", "eth0") not in veths
    assert {host_veth("kept", "eth0"), "vethforeign0"} <= set(veths)
    assert "master v-net-0" in nsrun(node.ns, "ip", "-o", "link", "show", "vethforeign0").stdout
    node.runtime.check("kept")
