"""The agent against a controller that answers dual-stack (a stub serving a wire.Node built here, in the node's own
namespace): `join --address v4,v6` registers both addresses, and the record's lists become the node network — both
gateways, a cluster route per family via that family's router address, masquerade per family, a conflist naming
both IPAM stores — and pods of both families. (The real controller's side is tested with the server.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.netns.node.support import Node, make_ns, nsrun, ping, tcp_probe
from tests.support.prereq import need, need_root_netns
from tests.support.records import node_json

pytestmark = pytest.mark.netns
PORT = 16780
RECORD = node_json(
    name="n1",
    address="192.168.77.11",
    subnet="10.244.14.0/24",
    gateway="10.244.14.1",
    cluster_cidrs=["10.244.0.0/16", "fd00:10:244::/56"],
    router_address="192.168.77.1",
    addresses=["192.168.77.11", "fd00:77::11"],
    subnets=["10.244.14.0/24", "fd00:10:244:14::/64"],
    gateways=["10.244.14.1", "fd00:10:244:14::1"],
    router_addresses=["192.168.77.1", "fd00:77::1"],
    route_proto=44,
)
STUB = """
import http.server, json, sys
record, log = sys.argv[1], sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(log, "a") as f:
            f.write(json.dumps({"path": self.path, "body": json.loads(body or b"null")}) + "\\n")
        data = record.encode()
        self.send_response(201 if self.path == "/v1/nodes" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[3])), Handler).serve_forever()
"""


@pytest.fixture
def joined() -> Iterator[Node]:
    need_root_netns()
    need(shutil.which("nft") is not None, "needs nftables (`nft`)")
    node = Node(subnet="10.244.14.0/24", subnet6="fd00:10:244:14::/64")
    node.ns = make_ns("node")
    stub = None
    try:
        # the underlay: the router's addresses of both families on the far end of a veth, on-link for the routes
        nsrun(node.ns, "ip", "link", "add", "hnt-u0", "type", "veth", "peer", "name", "hnt-u1")
        nsrun(node.ns, "ip", "addr", "add", "192.168.77.11/24", "dev", "hnt-u0")
        nsrun(node.ns, "ip", "addr", "add", "fd00:77::11/64", "dev", "hnt-u0", "nodad")
        for dev in ("hnt-u0", "hnt-u1"):
            nsrun(node.ns, "ip", "link", "set", dev, "up")
        log = os.path.join(node.root, "requests.jsonl")
        stub = subprocess.Popen(
            ["nsenter", f"--net={node.ns}", sys.executable, "-c", STUB, json.dumps(RECORD), log, str(PORT)]
        )
        deadline = time.monotonic() + 10
        while nsrun(node.ns, "ss", "-Hltn", f"sport = :{PORT}").stdout.strip() == "":
            assert time.monotonic() < deadline and stub.poll() is None, "stub controller did not start"
            time.sleep(0.05)
        node.extra_args = [
            "--controller", f"http://127.0.0.1:{PORT}", "--token", "hnt-bootstrap-token-0123456789",
            "--name", "n1", "--address", "fd00:77::11,192.168.77.11",
        ]  # fmt: skip
        node.start_agent()
        yield node
    finally:
        node.destroy()
        if stub is not None:
            stub.kill()
            stub.wait()


def test_a_dual_stack_answer_builds_both_families(joined: Node) -> None:
    node = joined
    with open(os.path.join(node.root, "requests.jsonl")) as f:
        register = json.loads(f.readline())
    assert register["path"] == "/v1/nodes"
    assert register["body"]["address"] == "192.168.77.11"  # the primary: IPv4 first, whatever the flag's order
    assert register["body"]["addresses"] == ["192.168.77.11", "fd00:77::11"]
    with open(os.path.join(node.conf, "10-hubnet.conflist")) as f:
        plugin = json.load(f)["plugins"][0]
    assert plugin["subnets"] == RECORD["subnets"] and len(plugin["ipamDirs"]) == 2
    routes = nsrun(node.ns, "ip", "-N", "route", "show").stdout + nsrun(node.ns, "ip", "-N", "-6", "route").stdout
    assert "10.244.0.0/16 via 192.168.77.1 dev hnt-u0 proto 44" in routes, routes
    assert "fd00:10:244::/56 via fd00:77::1 dev hnt-u0 proto 44" in routes, routes
    assert nsrun(node.ns, "nft", "list", "tables").stdout.split("\n")[:2] == ["table ip hubnet", "table ip6 hubnet"]
    a, b = node.new_pod_netns(), node.new_pod_netns()
    ra, rb = node.add("j1", a), node.add("j2", b)
    try:
        ips = [ip["address"] for ip in ra["ips"]]
        assert ips[0].startswith("10.244.14.") and ips[1].startswith("fd00:10:244:14::"), ips
        assert ping(a, "fd00:10:244:14::1").returncode == 0
        ip_a6, ip_b6 = ips[1].split("/")[0], rb["ips"][1]["address"].split("/")[0]
        assert tcp_probe(b, a, ip_a6) == ip_b6
    finally:
        node.runtime.delete("j1")
        node.runtime.delete("j2")
    assert node.reservations() == [] and node.reservations6() == []
