"""Direct mode (HUBNET_MODE=direct) with real agents: one L2 segment (a bridge in the controller's namespace, which
does not forward IP), three node namespaces on it running `hubnet node join`. Every node routes each OTHER node's
subnet via that node's address (protocol 44), never its own, and no cluster route via a router; pods on different
nodes talk with 0 datagrams forwarded by the controller's namespace; a deleted peer route comes back (drift repair),
a foreign route to a peer's prefix is left alone; then the cluster is switched to hub (the controller's namespace
becomes the router) and back to direct, pods talking after each switch.

    controller C (bridge hnt-sw, 192.168.60.1/24, ip_forward 0) -- n1 .11, n2 .12, n3 .13 (one /24: on-link)
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from tests.netns.node.support import HUBNET, Node, drop_ns, make_ns, nsrun, tcp_probe
from tests.support.prereq import need, need_root_netns

pytestmark = pytest.mark.netns
TOKEN = "hnt-bootstrap-token-0123456789"
HOSTS = {"n1": 11, "n2": 12, "n3": 13}


@dataclass
class Segment:
    hub: str
    root: str
    controller: subprocess.Popen[bytes] | None = None
    nodes: dict[str, Node] = field(default_factory=dict)

    def start_controller(self, mode: str) -> None:
        env = {
            **os.environ,
            "HUBNET_STATE_DIR": os.path.join(self.root, "controller"),
            "HUBNET_LISTEN": "0.0.0.0:6780",
            "HUBNET_BOOTSTRAP_TOKENS": TOKEN,
            "HUBNET_ADMIN_TOKENS": "hnt-admin-token-0123456789",
            "HUBNET_CLUSTER_CIDR": "10.244.0.0/16",
            "HUBNET_MODE": mode,
            "HUBNET_LEASE_TTL_SECONDS": "6",
            "HUBNET_RECONCILE_INTERVAL": "1",
        }
        if mode == "direct":
            env |= {"HUBNET_ROUTE_BACKEND": "none", "HUBNET_DIRECT_UNDERLAY": "192.168.60.0/24"}
        else:  # hub: the controller's namespace is the router (kernel backend there)
            env |= {"HUBNET_ROUTE_BACKEND": "kernel", "HUBNET_ROUTER_ADDRESS": "192.168.60.1"}
        os.makedirs(env["HUBNET_STATE_DIR"], exist_ok=True)
        log = open(os.path.join(self.root, "controller.log"), "ab")  # noqa: SIM115 - the child owns it
        cmd = ["nsenter", f"--net={self.hub}", HUBNET, "server"]
        self.controller = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        self.wait_controller()

    def wait_controller(self, timeout: float = 60.0) -> None:
        """Until /readyz answers 200 inside the hub namespace (a loaded machine starts the server slowly)."""
        code = (
            "import time,urllib.request as u\n"
            f"deadline=time.monotonic()+{timeout}\n"
            "while True:\n"
            " try:\n"
            "  u.urlopen('http://127.0.0.1:6780/readyz',timeout=2).read();break\n"
            " except Exception as e:\n"
            "  assert time.monotonic()<deadline, e\n"
            "  time.sleep(0.2)\n"
        )
        nsrun(self.hub, sys.executable, "-c", code)

    def stop_controller(self) -> None:
        if self.controller is not None and self.controller.poll() is None:
            self.controller.send_signal(signal.SIGTERM)
            try:
                self.controller.wait(10)
            except subprocess.TimeoutExpired:
                self.controller.kill()
                self.controller.wait(5)
        self.controller = None

    def add_node(self, name: str) -> Node:
        host = HOSTS[name]
        node = Node(subnet="")
        node.ns = make_ns("node")
        self.nodes[name] = node
        s_if, n_if = f"hnt-s{host}", f"hnt-u{host}"
        veth = ["ip", "link", "add", s_if, "netns", self.hub, "type", "veth", "peer", n_if, "netns", node.ns]
        subprocess.run(veth, check=True, capture_output=True)
        nsrun(self.hub, "ip", "link", "set", s_if, "master", "hnt-sw", "up")
        nsrun(node.ns, "ip", "addr", "add", f"192.168.60.{host}/24", "dev", n_if)
        nsrun(node.ns, "ip", "link", "set", n_if, "up")
        node.extra_args = [
            "--controller", "http://192.168.60.1:6780", "--token", TOKEN, "--name", name,
            "--address", f"192.168.60.{host}",
        ]  # fmt: skip
        node.start_agent(wait=False)
        return node

    def forwarded(self) -> int:
        """IP datagrams the controller's namespace forwarded (Ip: ForwDatagrams of its /proc/net/snmp)."""
        lines = [line.split() for line in nsrun(self.hub, "cat", "/proc/net/snmp").stdout.splitlines()]
        head, values = (line for line in lines if line[0] == "Ip:")
        return int(values[head.index("ForwDatagrams")])

    def destroy(self) -> None:
        for node in self.nodes.values():
            node.destroy()
        self.stop_controller()
        drop_ns(self.hub)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def segment() -> Iterator[Segment]:
    need_root_netns()
    need(shutil.which("nft") is not None and shutil.which("nsenter") is not None, "needs nft and nsenter")
    seg = Segment(hub=make_ns("hub"), root=tempfile.mkdtemp(prefix="hnt-direct-"))
    try:
        nsrun(seg.hub, "ip", "link", "add", "hnt-sw", "type", "bridge")
        nsrun(seg.hub, "ip", "addr", "add", "192.168.60.1/24", "dev", "hnt-sw")
        nsrun(seg.hub, "ip", "link", "set", "hnt-sw", "up")
        nsrun(seg.hub, "sysctl", "-qw", "net.ipv4.ip_forward=0")
        seg.start_controller("direct")
        for name in HOSTS:
            seg.add_node(name)
        for node in seg.nodes.values():
            node.wait_listening(timeout=60)  # the conflist is written only once ready
        yield seg
    finally:
        seg.destroy()


def _record(node: Node) -> dict[str, str]:
    with open(os.path.join(node.state, "node.json")) as f:
        data: dict[str, str] = json.load(f)
    return data


def _routes(node: Node) -> list[str]:
    out = nsrun(node.ns, "ip", "-N", "-4", "route", "show").stdout
    return [" ".join(line.split()) for line in out.splitlines()]


def _wait(check: Callable[[], object], timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(0.1)


def _pod_ip(result: dict[str, object]) -> str:
    ips = result["ips"]
    assert isinstance(ips, list)
    return str(ips[0]["address"]).split("/")[0]


def _peer_routes(seg: Segment, name: str) -> set[str]:
    """The routes `name` must hold in direct mode: every other node's subnet via its address, protocol 44."""
    return {
        f"{_record(other)['subnet']} via 192.168.60.{HOSTS[n]} dev hnt-u{HOSTS[name]} proto 44"
        for n, other in seg.nodes.items()
        if n != name
    }


def test_each_node_routes_the_others_directly_and_pods_talk_without_the_hub(segment: Segment) -> None:
    for name, node in segment.nodes.items():
        assert _record(node)["mode"] == "direct"
        _wait(lambda n=name, nd=node: _peer_routes(segment, n) <= set(_routes(nd)), what=f"{name} peer routes")
        routes = _routes(node)
        assert not any(r.startswith("10.244.0.0/16") for r in routes), routes  # no cluster route via a router
        assert not any(r.startswith(_record(node)["subnet"] + " via") for r in routes), routes  # never its own
    pods = {}
    for i, (name, node) in enumerate(segment.nodes.items()):
        pod = node.new_pod_netns()
        pods[name] = (pod, _pod_ip(node.add(f"d{i}", pod)))
    before = segment.forwarded()
    port = 7100
    for a, (pa, ipa) in pods.items():
        for b, (pb, ipb) in pods.items():
            if a != b:
                port += 1
                assert tcp_probe(pa, pb, ipb, port=port) == ipa, f"{a} -> {b}"  # no NAT between pods
    assert segment.forwarded() == before  # not one pod packet through the controller's namespace


def test_a_deleted_peer_route_comes_back_and_a_foreign_one_is_left_alone(segment: Segment) -> None:
    n1 = segment.nodes["n1"]
    peer = sorted(_peer_routes(segment, "n1"))[0]
    prefix = peer.split()[0]
    nsrun(n1.ns, "ip", "route", "del", prefix)
    _wait(lambda: peer in _routes(n1), timeout=15, what="drift repaired")
    # an operator's route (proto boot) to a peer's prefix: our reconcile never replaces it
    nsrun(n1.ns, "ip", "route", "replace", prefix, "via", "192.168.60.99", "proto", "boot")
    time.sleep(2.5)  # more than one periodic reconcile (1 s) and a drift event
    routes = _routes(n1)
    assert any(r.startswith(f"{prefix} via 192.168.60.99") and "proto 44" not in r for r in routes), routes
    nsrun(n1.ns, "ip", "route", "del", prefix)
    _wait(lambda: peer in _routes(n1), timeout=15, what="ours again once the foreign route is gone")


def test_an_agent_restart_keeps_the_peer_routes_and_becomes_ready_again(segment: Segment) -> None:
    n1 = segment.nodes["n1"]
    before = sorted(r for r in _routes(n1) if "proto 44" in r)
    n1.stop_agent(signal.SIGTERM)
    assert sorted(r for r in _routes(n1) if "proto 44" in r) == before  # stopping never flushes
    n1.start_agent()
    n1.wait_ready(timeout=60)
    time.sleep(1.5)  # a reconcile or two after the restart: still the same routes (reconciled, not rebuilt)
    assert sorted(r for r in _routes(n1) if "proto 44" in r) == before


def _pods_talk(segment: Segment, base: int) -> None:
    node_pods = [(name, node.pods[-1]) for name, node in segment.nodes.items()]
    ips = {
        name: nsrun(p, "ip", "-4", "-o", "addr", "show", "eth0").stdout.split()[3].split("/")[0]
        for name, p in node_pods
    }
    port = base
    for a, pa in node_pods:
        for b, pb in node_pods:
            if a != b:
                port += 1
                assert tcp_probe(pa, pb, ips[b], port=port) == ips[a], f"{a} -> {b}"


def test_switching_to_hub_and_back_keeps_every_pod_pair(segment: Segment) -> None:
    # hub: the controller's namespace becomes the router (kernel backend, forwarding on)
    nsrun(segment.hub, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    segment.stop_controller()
    segment.start_controller("hub")
    for name, node in segment.nodes.items():
        cluster = f"10.244.0.0/16 via 192.168.60.1 dev hnt-u{HOSTS[name]} proto 44"
        _wait(
            lambda nd=node, c=cluster: (
                c in _routes(nd) and not any("proto 44" in r and not r.startswith("10.244.0.0/16") for r in _routes(nd))
            ),
            what=f"{name} in hub mode",
        )
    before = segment.forwarded()
    _pods_talk(segment, 7200)
    assert segment.forwarded() > before  # through the router now
    # back to direct: peers first, then the cluster route goes
    segment.stop_controller()
    nsrun(segment.hub, "sysctl", "-qw", "net.ipv4.ip_forward=0")
    segment.start_controller("direct")
    for name, node in segment.nodes.items():
        _wait(
            lambda n=name, nd=node: (
                _peer_routes(segment, n) <= set(_routes(nd))
                and not any(r.startswith("10.244.0.0/16") for r in _routes(nd))
            ),
            what=f"{name} in direct mode again",
        )
    before = segment.forwarded()
    _pods_talk(segment, 7300)
    assert segment.forwarded() == before
