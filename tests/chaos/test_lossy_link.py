"""A lossy control link: the controller runs in its own namespace behind a veth whose every packet, both ways,
is dropped with 30 % probability (nftables `numgen random mod 100 < 30 drop`; this kernel has no `tc netem`).
HUBNET_CHAOS_LOSSY_NODES node clients (default 300) in a second namespace register and heartbeat twice each,
retrying as agents do: all complete, 0 duplicate nodes, 0 overlapping subnets, every answer matches the database.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from hubnet.linux.labnet import socket_in
from tests.chaos.support import env_int
from tests.integration.support import HUBNET, Server, free_port, sql
from tests.support.netns import netns, sh
from tests.support.prereq import need, need_root_netns

pytestmark = pytest.mark.netns

NODES = env_int("HUBNET_CHAOS_LOSSY_NODES", 300)
DROP_PERCENT = 30
SERVER_IP, CLIENT_IP = "10.199.0.1", "10.199.0.2"
RULES = f"""
table inet hnt_lossy {{
  chain input {{
    type filter hook input priority 0; policy accept;
    iifname "hnt-ls0" counter
    iifname "hnt-ls0" numgen random mod 100 < {DROP_PERCENT} counter drop
  }}
  chain output {{
    type filter hook output priority 0; policy accept;
    oifname "hnt-ls0" counter
    oifname "hnt-ls0" numgen random mod 100 < {DROP_PERCENT} counter drop
  }}
}}
"""


class NetnsServer(Server):
    """`hubnet server` inside namespace `ns`, listening on SERVER_IP; readiness probed from inside `ns`."""

    ns: str = ""

    def command(self) -> list[str]:
        return ["ip", "netns", "exec", self.ns, HUBNET, "server"]

    def answers_ready(self) -> bool:
        return _ready(self.ns, self.port)


def _ready(ns: str, port: int) -> bool:
    with socket_in(ns) as sock:  # from inside the server's namespace: over its loopback, never the lossy link
        sock.settimeout(1)
        try:
            sock.connect((SERVER_IP, port))
            sock.sendall(b"GET /readyz HTTP/1.0\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 200")
        except OSError:
            return False


@contextmanager
def lossy_link() -> Iterator[tuple[str, str]]:
    """(client ns, server ns) joined by a veth; the server side drops DROP_PERCENT % of packets each way."""
    need_root_netns()
    need(subprocess.run(["nft", "--version"], capture_output=True).returncode == 0, "needs nftables (`nft`)")
    with netns("lc") as client, netns("ls") as server:
        sh("ip", "link", "add", "hnt-lc0", "type", "veth", "peer", "name", "hnt-ls0", "netns", server, ns=client)
        for ns, link, ip in ((client, "hnt-lc0", CLIENT_IP), (server, "hnt-ls0", SERVER_IP)):
            sh("ip", "addr", "add", f"{ip}/30", "dev", link, ns=ns)
            sh("ip", "link", "set", link, "up", ns=ns)
        subprocess.run(["ip", "netns", "exec", server, "nft", "-f", "-"], input=RULES, text=True, check=True)
        yield client, server


def _drop_rate(ns: str) -> float:
    out = sh("nft", "-j", "list", "table", "inet", "hnt_lossy", ns=ns).stdout
    counters = [item["rule"] for item in json.loads(out)["nftables"] if "rule" in item]
    seen = dropped = 0
    for rule in counters:
        packets = next(e["counter"]["packets"] for e in rule["expr"] if "counter" in e)
        if any("drop" in e for e in rule["expr"]):
            dropped += packets
        else:
            seen += packets
    return dropped / seen if seen else 0.0


def test_registrations_and_heartbeats_through_a_lossy_link(tmp_path: Path) -> None:
    with lossy_link() as (client_ns, server_ns):
        (tmp_path / "state").mkdir()
        port = free_port()
        server = NetnsServer(
            f"sqlite:///{tmp_path / 'state' / 'hubnet.db'}",
            tmp_path,
            port=port,
            extra_env={"HUBNET_LISTEN": f"{SERVER_IP}:{port}", "HUBNET_CLUSTER_CIDR": "10.240.0.0/12"},
        )
        server.ns = server_ns
        server.start()
        try:
            cmd = [sys.executable, "-m", "tests.chaos.lossy_client", f"http://{SERVER_IP}:{port}", server.bootstrap]
            run = subprocess.run(
                ["ip", "netns", "exec", client_ns, *cmd, str(NODES), "2", "32"],
                capture_output=True,
                text=True,
                timeout=290,
                cwd=Path(__file__).resolve().parents[2],
            )
            assert run.returncode == 0, run.stderr[-3000:]
            report = json.loads(run.stdout)
            rate = _drop_rate(server_ns)
        finally:
            server.stop()
        nodes = report["nodes"]
        assert [n for n in nodes if n["error"]] == [], "a client did not complete"
        rows = sql(server.db_url, "SELECT name, subnet FROM nodes WHERE state <> 'released'")
        assert dict(rows) == {n["name"]: n["subnet"] for n in nodes}, "the database differs from the answers"
        subnets = sorted((IPv4Network(str(s)) for _, s in rows), key=lambda s: int(s.network_address))
        assert all(not a.overlaps(b) for a, b in itertools.pairwise(subnets)), "overlapping subnets"
        query = "SELECT node, count(*) FROM events WHERE type = 'node.registered' GROUP BY node"
        events = sql(server.db_url, query)
        assert dict(events) == {n["name"]: 1 for n in nodes}, "a node was registered twice"
        retries = sum(n["retries"] for n in nodes)
        assert retries > 0 and 0.2 < rate < 0.4, (retries, rate)
        print(
            f"lossy link: {NODES} nodes x (1 registration + 2 heartbeats), {rate:.1%} of packets dropped, "
            f"{retries} retries, {report['seconds']:.1f}s; duplicates 0, overlaps 0, failures 0"
        )
