"""The agent against the real controller: a router namespace runs `hubnet server` (SQLite, kernel route backend in
its own namespace), two node namespaces reach it over veth underlays and run `hubnet node join`.

    router R: 192.168.51.1 <-> n1 192.168.51.11      R: 192.168.52.1 <-> n2 192.168.52.12
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.netns.node.support import HUBNET, Node, PluginError, drop_ns, make_ns, nsrun, tcp_probe
from tests.support.prereq import need, need_root_netns

pytestmark = pytest.mark.netns
TOKEN = "hnt-bootstrap-token-0123456789"


@dataclass
class Cluster:
    router: str
    root: str
    backend: str
    controller: subprocess.Popen[bytes] | None = None
    nodes: dict[str, Node] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # more HUBNET_* settings for the controller

    def start_controller(self) -> None:
        env = {
            **os.environ,
            "HUBNET_STATE_DIR": os.path.join(self.root, "controller"),
            "HUBNET_LISTEN": "0.0.0.0:6780",
            "HUBNET_BOOTSTRAP_TOKENS": TOKEN,
            "HUBNET_ADMIN_TOKENS": "hnt-admin-token-0123456789",
            "HUBNET_CLUSTER_CIDR": "10.244.0.0/16",
            "HUBNET_ROUTE_BACKEND": self.backend,
            "HUBNET_RECONCILE_INTERVAL": "1",
            "HUBNET_LEASE_TTL_SECONDS": "6",
            **self.env,
        }
        os.makedirs(env["HUBNET_STATE_DIR"], exist_ok=True)
        log = open(os.path.join(self.root, "controller.log"), "ab")  # noqa: SIM115 - the child owns it
        cmd = ["nsenter", f"--net={self.router}", HUBNET, "server"]
        self.controller = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()

    def stop_controller(self) -> None:
        if self.controller is not None and self.controller.poll() is None:
            self.controller.send_signal(signal.SIGTERM)
            try:
                self.controller.wait(10)
            except subprocess.TimeoutExpired:
                self.controller.kill()
                self.controller.wait(5)
        self.controller = None

    def add_node(
        self, name: str, octet: int, host: int, wait: bool = True, url: str | None = None, ca: str | None = None
    ) -> Node:
        """A node namespace on its own veth underlay 192.168.<octet>.0/24 with its agent joined; `url` (default: the
        controller over plain HTTP on that link) and `ca` (`--ca-file`) for a controller serving TLS."""
        node = Node(subnet="")
        node.ns = make_ns("node")
        self.nodes[name] = node
        r_if, n_if = f"hnt-r{octet}", f"hnt-u{octet}"
        # created directly inside the two namespaces (IFLA_NET_NS_FD): nothing appears in the root namespace
        veth = ["ip", "link", "add", r_if, "netns", self.router, "type", "veth", "peer", n_if, "netns", node.ns]
        subprocess.run(veth, check=True, capture_output=True)
        nsrun(self.router, "ip", "addr", "add", f"192.168.{octet}.1/24", "dev", r_if)
        nsrun(self.router, "ip", "link", "set", r_if, "up")
        nsrun(node.ns, "ip", "addr", "add", f"192.168.{octet}.{host}/24", "dev", n_if)
        nsrun(node.ns, "ip", "link", "set", n_if, "up")
        node.extra_args = [
            "--controller", url or f"http://192.168.{octet}.1:6780", "--token", TOKEN, "--name", name,
            "--address", f"192.168.{octet}.{host}", "--router", f"192.168.{octet}.1",
            *(["--ca-file", ca] if ca else []),
        ]  # fmt: skip
        node.start_agent(wait=wait)
        return node

    def destroy(self) -> None:
        for node in self.nodes.values():
            node.destroy()
        self.stop_controller()
        drop_ns(self.router)
        shutil.rmtree(self.root, ignore_errors=True)


def _make_cluster(backend: str) -> Iterator[Cluster]:
    need_root_netns()
    need(shutil.which("nft") is not None and shutil.which("nsenter") is not None, "needs nft and nsenter")
    cluster = Cluster(router=make_ns("router"), root=tempfile.mkdtemp(prefix="hnt-cluster-"), backend=backend)
    try:
        nsrun(cluster.router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        cluster.start_controller()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from _make_cluster("kernel")


def _subnet(node: Node) -> str:
    with open(os.path.join(node.state, "node.json")) as f:
        return str(json.load(f)["subnet"])


def _pod_ip(result: dict[str, object]) -> str:
    ips = result["ips"]
    assert isinstance(ips, list)
    return str(ips[0]["address"]).split("/")[0]


def test_join_builds_the_node_network(cluster: Cluster) -> None:
    n1 = cluster.add_node("n1", 51, 11)
    n2 = cluster.add_node("n2", 52, 12)
    for node, octet, host in ((n1, 51, 11), (n2, 52, 12)):
        subnet = _subnet(node)
        gw = subnet.replace(".0/24", ".1/24")
        assert f"inet {gw}" in nsrun(node.ns, "ip", "-4", "addr", "show", "v-net-0").stdout
        assert nsrun(node.ns, "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "1"
        assert f"10.244.0.0/16 via 192.168.{octet}.1" in nsrun(node.ns, "ip", "route").stdout
        assert f"{subnet} via 192.168.{octet}.{host}" in nsrun(cluster.router, "ip", "route").stdout
        assert "masquerade" in nsrun(node.ns, "nft", "list", "table", "ip", "hubnet").stdout
        with open(os.path.join(node.conf, "10-hubnet.conflist")) as f:
            conf = json.load(f)
        assert conf["cniVersion"] == "1.0.0" and "1.1.0" in conf["cniVersions"]
    assert _subnet(n1) != _subnet(n2)


def test_pods_across_nodes_keep_their_address_and_egress_is_masqueraded(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    p1, p2 = n1.new_pod_netns(), n2.new_pod_netns()
    ip1, ip2 = _pod_ip(n1.add("x1", p1)), _pod_ip(n2.add("x2", p2))
    assert tcp_probe(p1, p2, ip2) == ip1  # pod to pod across the router: no NAT
    assert tcp_probe(p1, cluster.router, "192.168.51.1", port=7072) == "192.168.51.11"  # leaves the cluster: NAT


def test_agent_restart_keeps_subnet_and_pods(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    before = _subnet(n1)
    p1, p2 = n1.pods[-1], n2.pods[-1]
    ip1 = nsrun(p1, "ip", "-4", "-o", "addr", "show", "eth0").stdout.split()[3].split("/")[0]
    ip2 = nsrun(p2, "ip", "-4", "-o", "addr", "show", "eth0").stdout.split()[3].split("/")[0]
    n1.stop_agent(signal.SIGTERM)
    assert tcp_probe(p1, p2, ip2, port=7073) == ip1  # agent down: the network stays
    n1.start_agent()
    n1.wait_ready()
    assert _subnet(n1) == before
    assert tcp_probe(p2, p1, ip1, port=7074) == ip2
    n1.runtime.check("x1")


def _admin(cluster: Cluster, method: str, path: str) -> dict[str, object]:
    """Call the controller's API as admin from inside the router namespace (it listens there)."""
    code = (
        "import json,sys,urllib.request as u;"
        f"r=u.Request('http://127.0.0.1:6780{path}',method='{method}',"
        "headers={'Authorization':'Bearer hnt-admin-token-0123456789'});"
        "b=u.urlopen(r,timeout=10).read();print(b.decode() or '{}')"
    )
    out = nsrun(cluster.router, sys.executable, "-c", code)
    data = json.loads(out.stdout)
    assert isinstance(data, dict)
    return data


def test_deleted_record_makes_the_node_not_ready_at_once_then_it_registers_again(cluster: Cluster) -> None:
    """An admin deletes the node record: the next heartbeat gets 409 lease-released; ADD answers 11 with the
    reason until the agent has registered afresh (same subnet: it was not re-issued) and the route is back."""
    n2 = cluster.nodes["n2"]
    n2.wait_ready()
    before = _admin(cluster, "GET", "/v1/nodes/n2")
    _admin(cluster, "DELETE", "/v1/nodes/n2")
    deadline = time.monotonic() + 10  # the next heartbeat is due within ttl/3 = 2 s
    while True:
        try:
            n2.runtime.status()
        except PluginError as exc:
            assert exc.code == 50 and "409" in str(exc.details), exc.details
            break
        assert time.monotonic() < deadline, n2.log()
        time.sleep(0.02)
    pod = make_ns("pod")  # not in n2.pods: later tests use n2's last pod
    try:
        with pytest.raises(PluginError) as err:
            n2.add("while-released", pod)
    finally:
        drop_ns(pod)
    assert err.value.code == 11 and "409" in str(err.value.details), err.value.details
    n2.wait_ready()
    after = _admin(cluster, "GET", "/v1/nodes/n2")
    assert after["state"] == "active" and after["subnet"] == before["subnet"]
    assert isinstance(after["generation"], int) and isinstance(before["generation"], int)
    assert after["generation"] == before["generation"] + 1  # a fresh registration, not the old record
    assert f"{before['subnet']} via 192.168.52.12" in nsrun(cluster.router, "ip", "route").stdout


def test_controller_down_pods_work_and_a_ready_node_still_adds(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    cluster.stop_controller()
    p2 = n2.pods[-1]
    ip2 = nsrun(p2, "ip", "-4", "-o", "addr", "show", "eth0").stdout.split()[3].split("/")[0]
    fresh = n1.new_pod_netns()
    ip_new = _pod_ip(n1.add("late", fresh))
    assert tcp_probe(fresh, p2, ip2, port=7075) == ip_new
    n1.runtime.check("late")
    n1.runtime.status()
    assert n1.proc is not None and n1.proc.poll() is None  # the agent keeps running, backing off


def test_not_ready_until_the_route_is_programmed() -> None:
    """With no route backend the controller never reports `programmed`: the agent stays fail-closed."""
    for cluster in _make_cluster("none"):
        node = cluster.add_node("n9", 59, 19, wait=False)
        sock = os.path.join(node.state, "agent.sock")
        deadline = time.monotonic() + 20
        while not os.path.exists(os.path.join(node.state, "node.json")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert os.path.exists(os.path.join(node.state, "node.json")), node.log()  # registered, got a subnet
        time.sleep(1.5)
        assert not os.path.exists(os.path.join(node.conf, "10-hubnet.conflist"))
        assert not os.path.exists(node.plugin)
        conf = json.dumps({"cniVersion": "1.1.0", "name": "hubnet", "type": "hubnet", "agentSocket": sock})
        env = {"CNI_CONTAINERID": "early", "CNI_NETNS": node.new_pod_netns(), "CNI_IFNAME": "eth0", "CNI_PATH": "/x"}
        shim = os.path.join(os.path.dirname(HUBNET), "hubnet-cni")
        for command, code in (("ADD", 11), ("STATUS", 50)):
            proc = subprocess.run([shim], input=conf.encode(), env={**env, "CNI_COMMAND": command},
                                  capture_output=True, timeout=30)  # fmt: skip
            assert proc.returncode != 0 and json.loads(proc.stdout)["code"] == code, proc.stdout


def test_leave_deregisters_and_tears_down(cluster: Cluster) -> None:
    n1 = cluster.nodes["n1"]
    subnet = _subnet(n1)
    cluster.start_controller()
    n1.wait_ready()  # the agent found the controller again
    for cid in ("x1", "late"):
        n1.runtime.delete(cid)
    n1.stop_agent(signal.SIGTERM)
    assert "v-net-0" in nsrun(n1.ns, "ip", "link").stdout  # SIGTERM left the network in place
    leave = ["nsenter", f"--net={n1.ns}", HUBNET, "node", "leave", "--state-dir", n1.state]
    deadline = time.monotonic() + 60
    while (out := subprocess.run(leave, capture_output=True, text=True, timeout=60)).returncode != 0:
        assert "unreachable" in out.stderr and time.monotonic() < deadline, out.stderr  # controller still starting
        assert "v-net-0" in nsrun(n1.ns, "ip", "link").stdout  # a failed deregistration tears nothing down
        time.sleep(0.5)
    assert "v-net-0" not in nsrun(n1.ns, "ip", "link").stdout
    assert "10.244.0.0/16" not in nsrun(n1.ns, "ip", "route").stdout
    assert nsrun(n1.ns, "nft", "list", "table", "ip", "hubnet", check=False).returncode != 0
    assert not os.path.exists(os.path.join(n1.conf, "10-hubnet.conflist")) and not os.path.exists(n1.plugin)
    deadline = time.monotonic() + 15
    while subnet in nsrun(cluster.router, "ip", "route").stdout:  # released at once: the route is withdrawn
        assert time.monotonic() < deadline, nsrun(cluster.router, "ip", "route").stdout
        time.sleep(0.2)


def _leave(node: Node, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = ["nsenter", f"--net={node.ns}", HUBNET, "node", "leave", "--state-dir", node.state, *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def _torn_down(node: Node) -> bool:
    return (
        "v-net-0" not in nsrun(node.ns, "ip", "link").stdout
        and "10.244.0.0/16" not in nsrun(node.ns, "ip", "route").stdout
        and nsrun(node.ns, "nft", "list", "table", "ip", "hubnet", check=False).returncode != 0
        and not os.path.exists(os.path.join(node.conf, "10-hubnet.conflist"))
    )


def test_leave_when_the_controller_no_longer_knows_the_node(cluster: Cluster) -> None:
    """A record the controller does not have any more answers 401 to the node's secret: `leave` counts that as
    deregistered and tears down (it used to fail forever)."""
    n2 = cluster.nodes["n2"]
    n2.stop_agent(signal.SIGTERM)
    with open(os.path.join(n2.state, "secret"), "w") as f:
        f.write("ab" * 32)  # a secret the controller never saw: what a node whose record is gone looks like
    out = _leave(n2)
    assert out.returncode == 0 and "already gone" in out.stdout, out.stdout + out.stderr
    assert _torn_down(n2)


def test_leave_force_tears_down_without_a_controller(cluster: Cluster) -> None:
    n3 = cluster.add_node("n3", 53, 13)
    n3.wait_ready()
    n3.stop_agent(signal.SIGTERM)
    cluster.stop_controller()
    out = _leave(n3)
    assert out.returncode == 1 and "--force" in out.stderr, out.stdout + out.stderr
    assert "v-net-0" in nsrun(n3.ns, "ip", "link").stdout  # without --force nothing is torn down
    out = _leave(n3, "--force")
    assert out.returncode == 0 and "--force" in out.stdout, out.stdout + out.stderr
    assert _torn_down(n3)
