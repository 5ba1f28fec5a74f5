"""ADD / CHECK / DEL through the installed plugin in real namespaces: pods get addresses and talk."""

from __future__ import annotations

import os
import time

import pytest

from hubnet.node.runtime import PluginError
from tests.netns.node.support import Node, nsrun, tcp_probe

pytestmark = pytest.mark.netns


def test_two_pods_reach_each_other_and_the_gateway(node: Node) -> None:
    a, b = node.new_pod_netns(), node.new_pod_netns()
    ra, rb = node.add("pa", a), node.add("pb", b)
    try:
        ip_a = ra["ips"][0]["address"].split("/")[0]
        ip_b = rb["ips"][0]["address"].split("/")[0]
        assert ip_a != ip_b
        assert f"inet {ip_a}/24" in nsrun(a, "ip", "-4", "addr", "show", "eth0").stdout
        assert "default via 10.244.7.1 dev eth0" in nsrun(a, "ip", "route").stdout
        assert tcp_probe(a, b, ip_b) == ip_a  # pod to pod, no NAT on the way
        assert tcp_probe(b, node.ns, "10.244.7.1", port=7071) == ip_b  # the gateway on the bridge
    finally:
        node.runtime.delete("pa")
        node.runtime.delete("pb")
    assert node.reservations() == [] and node.host_veths() == []


@pytest.mark.parametrize("version", ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
def test_result_shape_per_version(node: Node, version: str) -> None:
    pod = node.new_pod_netns()
    cfg = node.plugin_config(cniVersion=version)
    env = {
        "CNI_COMMAND": "ADD",
        "CNI_CONTAINERID": f"v{version.replace('.', '')}",
        "CNI_NETNS": pod,
        "CNI_IFNAME": "eth0",
        "CNI_PATH": node.bin,
    }
    import json

    status, out = node.exec_plugin(env, json.dumps(cfg))
    try:
        assert status == 0, out
        assert out["cniVersion"] == version
        ip = out["ips"][0]
        assert ("version" in ip) == (version < "1.0.0")
        assert out["interfaces"][ip["interface"]]["sandbox"] == env["CNI_NETNS"]
        assert out["interfaces"][ip["interface"]]["name"] == "eth0"
        assert ip["gateway"] == "10.244.7.1"
    finally:
        status, _ = node.exec_plugin({**env, "CNI_COMMAND": "DEL"}, json.dumps(cfg))
        assert status == 0


def test_add_twice_is_an_error_and_keeps_one_reservation(node: Node) -> None:
    pod = node.new_pod_netns()
    node.add("twice", pod)
    try:
        with pytest.raises(PluginError) as err:
            node.add("twice", pod)
        assert err.value.code >= 100
        assert len(node.reservations()) == 1
        second = node.add("twice", pod, ifname="net1")  # same container, another interface: another address
        first = node.runtime.cached("twice")
        assert first is not None
        assert second["ips"][0]["address"] != first["result"]["ips"][0]["address"]
        assert len(node.reservations()) == 2
    finally:
        node.runtime.delete("twice")
        node.runtime.delete("twice", ifname="net1")
    assert node.reservations() == []


@pytest.mark.parametrize(
    "damage",
    [
        ("ip", "addr", "flush", "dev", "eth0"),
        ("ip", "route", "del", "default"),
        ("ip", "link", "del", "eth0"),
    ],
    ids=["address removed", "default route removed", "veth removed"],
)
def test_check_passes_after_add_and_fails_after_damage(node: Node, damage: tuple[str, ...]) -> None:
    pod = node.new_pod_netns()
    node.add("chk", pod)
    try:
        node.runtime.check("chk")
        nsrun(pod, *damage)
        with pytest.raises(PluginError):
            node.runtime.check("chk")
    finally:
        node.runtime.delete("chk")
    assert node.reservations() == [] and node.host_veths() == []


def test_status_and_gc(node: Node) -> None:
    pods = [node.new_pod_netns() for _ in range(3)]
    for i, pod in enumerate(pods):
        node.add(f"gc{i}", pod)
    node.runtime.status()
    node.runtime.gc([("gc1", "eth0")])
    assert len(node.reservations()) == 1
    assert len(node.host_veths()) == 1
    # an orphan port (as a DEL handled by the shim while the agent was down leaves it: tagged as hubnet's) goes too
    nsrun(node.ns, "ip", "link", "add", "vethhntorphan0", "type", "veth", "peer", "name", "hnt-orphan1")
    nsrun(node.ns, "ip", "link", "set", "vethhntorphan0", "master", "v-net-0", "alias", "hubnet:orphan/eth0")
    node.runtime.gc([("gc1", "eth0")])
    assert len(node.reservations()) == 1 and len(node.host_veths()) == 1
    node.runtime.gc([])
    assert node.reservations() == [] and node.host_veths() == []
    assert {"lock", "last_reserved_ip.0", "subnet"} <= set(__import__("os").listdir(node.ipam_dir))
    for i in range(3):
        node.runtime.delete(f"gc{i}")


def test_gc_accepts_the_older_attachments_key(node: Node) -> None:
    import json

    pod = node.new_pod_netns()
    node.add("old", pod)
    node.add("gone", node.new_pod_netns())
    cfg = node.plugin_config(**{"cni.dev/attachments": [{"containerID": "old", "ifname": "eth0"}]})
    status, out = node.exec_plugin({"CNI_COMMAND": "GC", "CNI_PATH": node.bin}, json.dumps(cfg))
    assert status == 0, out
    assert len(node.reservations()) == 1
    node.runtime.delete("old")
    node.runtime.delete("gone")
    assert node.reservations() == []


def test_cli_pod_add_check_list_del(node: Node) -> None:
    """`hubnet node pod` creates the pod netns, runs the plugin like a runtime and keeps the result cache."""
    import json
    import subprocess

    from tests.netns.node.support import HUBNET

    dirs = ["--state-dir", os.path.join(node.root, "runtime"), "--cni-conf-dir", node.conf, "--cni-bin-dir", node.bin]
    name = f"cli{os.getpid()}"

    def hubnet(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([HUBNET, "node", "pod", *args, *dirs], capture_output=True, text=True, timeout=60)

    add = hubnet("add", name, "--netns-prefix", "hnt-pod-")
    assert add.returncode == 0, add.stderr
    try:
        address = json.loads(add.stdout)["ips"][0]["address"]
        assert os.path.exists(f"/var/run/netns/hnt-pod-{name}")
        assert hubnet("check", name).returncode == 0
        listing = hubnet("list").stdout
        assert name in listing and address in listing
    finally:
        gone = hubnet("del", name, "--netns-prefix", "hnt-pod-")
    assert gone.returncode == 0, gone.stderr
    assert not os.path.exists(f"/var/run/netns/hnt-pod-{name}")
    assert node.reservations() == []
    again = hubnet("check", name)
    assert again.returncode == 1 and f"no attachment {name}/eth0" in again.stderr, again.stderr  # not in the cache


def test_check_right_after_add_passes_100_times(node: Node) -> None:
    """CNI CHECK with 0 ms between it and ADD (a runtime may run them back to back): 100/100 pass, and every DEL
    leaves nothing behind (issue 17 item 10)."""
    pod = node.new_pod_netns()
    started = time.monotonic()
    for i in range(100):
        node.add(f"chk-now-{i}", pod)
        try:
            node.runtime.check(f"chk-now-{i}")
        finally:
            node.runtime.delete(f"chk-now-{i}")
    print(f"CHECK right after ADD: 100/100 passed in {time.monotonic() - started:.1f} s")
    assert node.reservations() == [] and node.host_veths() == []
