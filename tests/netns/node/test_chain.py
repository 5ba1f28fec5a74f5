"""Chained plugins (issue 15): the agent's conflist chains the real `portmap` and `bandwidth` plugins (Debian's
containernetworking-plugins) after hubnet, and `hubnet node pod add` passes them the runtime config as libcni does.

A pod publishing a port is reached on the node's address:hostPort from another namespace (keeping the client's
source address), a bandwidth limit shows as the plugin's qdiscs, and DEL through the chain removes the DNAT rules,
the ifb device and the veth."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.netns.node.support import HUBNET, PYTHON, Node, drop_ns, make_ns, nsrun
from tests.support.prereq import need, need_root_netns

pytestmark = pytest.mark.netns
DEBIAN_CNI = "/usr/lib/cni"
NODE_IP, CLIENT_IP = "192.168.231.1", "192.168.231.2"


@pytest.fixture(scope="module")
def chained() -> Iterator[Node]:
    """A node whose CNI bin dir holds the reference portmap and bandwidth plugins."""
    need_root_netns()
    for plugin in ("portmap", "bandwidth"):
        need(os.access(os.path.join(DEBIAN_CNI, plugin), os.X_OK), f"needs {DEBIAN_CNI}/{plugin} (bootstrap.sh)")
    need(shutil.which("iptables") is not None, "needs iptables (portmap programs it)")
    node = Node(subnet="10.244.31.0/24")
    os.makedirs(node.bin)
    for plugin in ("portmap", "bandwidth"):
        shutil.copy(os.path.join(DEBIAN_CNI, plugin), node.bin)
    try:
        node.create()
        yield node
    finally:
        node.destroy()


@pytest.fixture
def client(chained: Node) -> Iterator[str]:
    """Another namespace on the node's underlay: NODE_IP in the node, CLIENT_IP here."""
    path = make_ns("cli")
    try:
        nsrun(chained.ns, "ip", "link", "add", "hnc0", "type", "veth", "peer", "name", "eth0", "netns", path)
        nsrun(chained.ns, "ip", "addr", "add", f"{NODE_IP}/24", "dev", "hnc0")
        nsrun(chained.ns, "ip", "link", "set", "hnc0", "up")
        nsrun(path, "ip", "addr", "add", f"{CLIENT_IP}/24", "dev", "eth0")
        nsrun(path, "ip", "link", "set", "eth0", "up")
        yield path
    finally:
        nsrun(chained.ns, "ip", "link", "del", "hnc0", check=False)
        drop_ns(path)


def pod_cmd(node: Node, *args: str) -> subprocess.CompletedProcess[str]:
    dirs = ["--state-dir", os.path.join(node.root, "runtime"), "--cni-conf-dir", node.conf, "--cni-bin-dir", node.bin]
    return nsrun(node.ns, HUBNET, "node", "pod", *args, *dirs, check=False)


SERVE = (
    "import socket;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('0.0.0.0',80));"
    "s.listen();print('up',flush=True);s.settimeout(15);c,a=s.accept();c.sendall(a[0].encode());c.close()"
)
CONNECT = (
    "import socket,sys\nc=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=5)\n"
    "print(c.recv(100).decode())"
)


def assert_checked(node: Node, cid: str, bandwidth: bool = True) -> None:
    """CHECK runs hubnet (given the chain's final result, ifb included, as prevResult), then portmap, then
    bandwidth; an error from portmap or bandwidth means hubnet passed. Two upstream bugs of the 1.1.x plugins are
    accepted, nothing else: portmap fails CHECK of an IPv4-only pod on a host with ip6tables, looking for an IPv6
    chain it never made (containernetworking/plugins#819); bandwidth panics on CHECK of a pod without a bandwidth
    limit (#1221, fixed in 1.9.1)."""
    checked = pod_cmd(node, "check", cid)
    known = "could not check ipv6 dnat" in checked.stderr or (
        not bandwidth and "plugins/meta/bandwidth" in checked.stderr
    )
    assert checked.returncode == 0 or known, checked.stderr


def test_the_conflist_chains_the_plugins_in_the_bin_dir(chained: Node) -> None:
    with open(os.path.join(chained.conf, "10-hubnet.conflist")) as f:
        conflist = json.load(f)
    assert [p["type"] for p in conflist["plugins"]] == ["hubnet", "portmap", "bandwidth"]
    assert conflist["plugins"][1] == {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}
    assert conflist["plugins"][2] == {"type": "bandwidth", "capabilities": {"bandwidth": True}}
    # bookworm's plugins (1.1.x) speak up to CNI 1.0.0: a runtime must not pick 1.1.0 for the chain
    assert conflist["cniVersion"] == "1.0.0" and "1.0.0" in conflist["cniVersions"]
    assert "1.1.0" not in conflist["cniVersions"]


def test_host_port_and_bandwidth_through_the_chain(chained: Node, client: str) -> None:
    pod = chained.new_pod_netns()
    cid = f"chain{os.getpid()}"
    added = pod_cmd(
        chained, "add", cid, "--netns", pod, "-p", "18080:80/tcp",
        "--ingress-rate", "8000000", "--ingress-burst", "800000",
        "--egress-rate", "4000000", "--egress-burst", "400000",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr + chained.log()
    result = json.loads(added.stdout)
    pod_ip = result["ips"][0]["address"].split("/")[0]
    host_veth = result["interfaces"][1]["name"]
    ifbs = [i["name"] for i in result["interfaces"] if i["name"].startswith("bwp")]
    assert len(ifbs) == 1, result  # the bandwidth plugin's ifb for the egress limit, appended to the result

    # the node's address:hostPort from another namespace reaches the pod, which sees the client's own address
    server = subprocess.Popen(["nsenter", f"--net={pod}", PYTHON, "-c", SERVE], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "up"
        got = nsrun(client, PYTHON, "-c", CONNECT, NODE_IP, "18080", check=False)
        assert got.returncode == 0, got.stderr
        assert got.stdout.strip() == CLIENT_IP
    finally:
        server.kill()
        server.wait()
    rules = nsrun(chained.ns, "iptables-save", "-t", "nat").stdout
    assert "--dport 18080" in rules and f"--to-destination {pod_ip}:80" in rules

    # ingress (to the pod): tbf on the host veth; egress (from the pod): the veth's ingress redirected to the ifb,
    # shaped there by tbf
    veth_qdiscs = nsrun(chained.ns, "tc", "qdisc", "show", "dev", host_veth).stdout
    assert "qdisc tbf" in veth_qdiscs and "rate 8Mbit" in veth_qdiscs, veth_qdiscs
    assert "qdisc ingress" in veth_qdiscs, veth_qdiscs
    ifb_qdiscs = nsrun(chained.ns, "tc", "qdisc", "show", "dev", ifbs[0]).stdout
    assert "qdisc tbf" in ifb_qdiscs and "rate 4Mbit" in ifb_qdiscs, ifb_qdiscs

    assert_checked(chained, cid)

    deleted = pod_cmd(chained, "del", cid)
    assert deleted.returncode == 0, deleted.stderr
    rules = nsrun(chained.ns, "iptables-save", "-t", "nat").stdout
    assert "18080" not in rules and pod_ip not in rules, rules
    links = nsrun(chained.ns, "ip", "-o", "link", "show").stdout
    assert ifbs[0] not in links and host_veth not in links
    assert chained.reservations() == []


def test_a_pod_without_runtime_config_passes_through_the_chain(chained: Node) -> None:
    pod = chained.new_pod_netns()
    cid = f"plain{os.getpid()}"
    added = pod_cmd(chained, "add", cid, "--netns", pod)
    assert added.returncode == 0, added.stderr
    result = json.loads(added.stdout)
    assert [i["name"] for i in result["interfaces"]][2] == "eth0" and len(result["interfaces"]) == 3
    assert_checked(chained, cid, bandwidth=False)
    assert pod_cmd(chained, "del", cid).returncode == 0
    assert chained.reservations() == []
