"""docker-compose.yml on a real Docker engine: what the compose file promises, proved in containers.

A private dockerd (tests/support/docker.py: own roots under /tmp/hnt-dk-…, no iptables, no docker0) and a stand-in
for the Dockerfile's base image built from Debian packages (no registry here). Then the README's own command,
`docker-compose up --build -d`, under the project name `hnt-…`; the router must hold one route per node and family,
every demo pod must reach the demo pods of the other nodes over TCP in both families and be seen by them with its
own address (no NAT); the image must carry no C compiler. Last, `down` and the engine stopped: no container, no
`docker0`, none of the lab's bridge and veths in the root namespace, no process, mount or file of the engine left.

~3 minutes with the base tarball cached (/var/tmp/hnt-docker-cache), ~1.5 more to debootstrap it on a fresh machine.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_interface, ip_network
from pathlib import Path
from subprocess import PIPE

import pytest

from hubnet.lab import plan
from tests.support import docker
from tests.support.prereq import need, need_root_netns

ROOT = Path(__file__).resolve().parents[2]
NODES = (1, 2, 3)
BASE_TAG = "python:3.11-slim-bookworm"  # the Dockerfile's FROM
CIDR6 = plan.CLUSTER_CIDR6
IMAGE = "hubnet:dev"  # docker-compose.yml's image
PORT = 40007
READY_TIMEOUT = 180
POD = ("ip", "netns", "exec", "demo")
# serial: the engine's bridge (192.168.1.254/24 + fd00:192:168:1::fe) and veths live in the root namespace while the
# lab is up, and the namespace labs of tests/e2e compare the root namespace's addresses and routes before and after.
pytestmark = [pytest.mark.timeout(1200), pytest.mark.serial]

# The far pod's side: one TCP listener on the pod's address; each connection is answered with the peer address it saw.
LISTEN = """
import socket, sys
addr, count = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, int(sys.argv[3])))
s.listen(8)
s.settimeout(60)
print("ready", flush=True)
for _ in range(count):
    conn, peer = s.accept()
    conn.sendall(peer[0].encode())
    conn.close()
"""
CONNECT = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10) as c:
    print(c.recv(100).decode())
"""


@dataclass
class Lab:
    engine: docker.Engine
    project: str
    bridge: str = ""
    ports: set[str] = field(default_factory=set)
    pods: dict[int, list[str]] = field(default_factory=dict)  # node index -> its demo pod's IPv4, IPv6 address
    down: bool = False

    def compose(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.engine.run(*self.compose_argv(*args), timeout=timeout, check=check)

    def exec(self, service: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.compose("exec", "-T", service, *argv, check=check)

    def in_pod(self, node: int, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`argv` in node-`node`'s demo pod (its network namespace `demo`)."""
        return self.exec(f"node-{node}", *POD, *argv, check=check)

    def compose_argv(self, *args: str) -> list[str]:
        return [docker.COMPOSE, "-p", self.project, "-f", str(ROOT / "docker-compose.yml"), *args]

    def pod_argv(self, node: int, *argv: str) -> list[str]:
        return self.compose_argv("exec", "-T", f"node-{node}", *POD, *argv)

    def take_down(self) -> None:
        """`down -v`, then the engine stopped and cleaned away; idempotent (the last test and the fixture call it)."""
        if self.down:
            return
        self.down = True
        try:
            self.compose("down", "-v", "--timeout", "5", timeout=180, check=False)
        finally:
            docker.stop_engine(self.engine)


def root_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def bridge_ports(bridge: str) -> set[str]:
    """The containers' veths on the lab's bridge, in the root namespace."""
    out = subprocess.run(["ip", "-o", "link", "show", "master", bridge], capture_output=True, text=True, check=True)
    return {line.split(":")[1].strip().split("@")[0] for line in out.stdout.splitlines()}


def pod_addresses(lab: Lab, index: int) -> list[str]:
    """The demo pod's global addresses (IPv4 first), [] while it is not attached yet."""
    done = lab.in_pod(index, "ip", "-j", "addr", "show", "dev", "eth0", check=False)
    if done.returncode != 0:
        return []
    infos = json.loads(done.stdout or "[]")
    found = [a for i in infos for a in i.get("addr_info", []) if a.get("scope") == "global"]
    return [str(ip_address(a["local"])) for a in sorted(found, key=lambda a: a["family"] != "inet")]


def router_routes(lab: Lab, family: int) -> dict[str, str]:
    """The router's routes of hubnet (proto 44): prefix -> next hop."""
    out = lab.exec("router", "ip", f"-{family}", "-j", "route", "show", "proto", "44").stdout
    return {r["dst"]: r["gateway"] for r in json.loads(out or "[]")}


def wait_ready(lab: Lab) -> None:
    """Every demo pod attached in both families and the router holding a route per node and family."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        lab.pods = {i: pod_addresses(lab, i) for i in NODES}
        routes = {**router_routes(lab, 4), **router_routes(lab, 6)}
        if all(len(a) == 2 for a in lab.pods.values()) and len(routes) == 2 * len(NODES):
            return
        if time.monotonic() > deadline:
            logs = lab.compose("logs", "--tail", "30", check=False).stdout
            raise AssertionError(f"lab not ready after {READY_TIMEOUT}s: pods {lab.pods}, routes {routes}\n{logs}")
        time.sleep(2)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    need_root_netns()
    missing = [p for p in docker.PROGRAMS if shutil.which(p) is None]
    need(not missing, f"needs {', '.join(missing)} (scripts/bootstrap.sh installs them)")
    engine = docker.start_engine()
    built = Lab(engine, f"hnt-{secrets.token_hex(3)}")
    try:
        docker.import_base(engine, BASE_TAG)
        built.compose("up", "--build", "-d", timeout=900)
        network = engine.docker("network", "inspect", "-f", "{{.Id}}", f"{built.project}_underlay").stdout.strip()
        built.bridge = f"br-{network[:12]}"
        wait_ready(built)
        built.ports = bridge_ports(built.bridge)
        yield built
    finally:
        built.take_down()


def test_the_image_has_no_compiler(lab: Lab) -> None:
    for compiler in ("gcc", "cc"):
        done = lab.engine.docker(
            "run", "--rm", "--network=none", IMAGE, "sh", "-c", f"command -v {compiler}", check=False
        )
        assert done.returncode != 0, f"{compiler} in the image: {done.stdout}"
    # the compiled plugin is there instead
    done = lab.engine.docker("run", "--rm", "--network", "none", IMAGE, "hubnet", "--help")
    assert "node" in done.stdout


def test_the_router_holds_one_route_per_node(lab: Lab) -> None:
    for family, address, pool in ((4, plan.node_address, plan.CLUSTER_CIDR), (6, plan.node_address6, CIDR6)):
        routes = router_routes(lab, family)
        assert sorted(routes.values()) == sorted(str(address(i)) for i in NODES), routes
        for i in NODES:
            (prefix,) = [p for p, hop in routes.items() if hop == str(address(i))]
            subnet = ip_network(prefix)
            assert subnet.subnet_of(pool) and subnet.prefixlen == (24 if family == 4 else 64)  # type: ignore[arg-type]
            assert ip_address(lab.pods[i][0 if family == 4 else 1]) in subnet, (i, prefix, lab.pods[i])


def test_pods_on_different_nodes_reach_each_other_without_nat(lab: Lab) -> None:
    """Every ordered pair of nodes, both families: the far pod answers with the address it saw, the sender's own."""
    seen: dict[tuple[int, int, int], str] = {}
    for slot, family in enumerate((4, 6)):
        for far in NODES:
            address = lab.pods[far][slot]
            senders = [n for n in NODES if n != far]
            argv = lab.pod_argv(far, "python3", "-c", LISTEN, address, str(len(senders)), str(PORT))
            with subprocess.Popen(argv, env=lab.engine.env, stdout=PIPE, stderr=PIPE, text=True) as srv:
                assert srv.stdout is not None
                assert srv.stdout.readline().strip() == "ready", srv.stderr.read() if srv.stderr else ""
                for near in senders:
                    out = lab.in_pod(near, "python3", "-c", CONNECT, address, str(PORT))
                    seen[(family, near, far)] = out.stdout.strip()
                srv.wait(30)
    expected = {(f, near, far): lab.pods[near][0 if f == 4 else 1] for (f, near, far) in seen}
    assert seen == expected
    assert len(seen) == 2 * len(NODES) * (len(NODES) - 1)
    assert all(isinstance(ip_address(a), IPv4Address | IPv6Address) for a in seen.values())
    # the pods' addresses are the lab plan's pools (each pod inside its node's subnet: the test above)
    for v4, v6 in lab.pods.values():
        assert ip_interface(v4).ip in plan.CLUSTER_CIDR and ip_interface(v6).ip in CIDR6


def test_down_leaves_nothing(lab: Lab) -> None:
    assert lab.bridge in root_links() and lab.ports, (lab.bridge, lab.ports)  # the lab was on the host's bridge
    assert lab.engine.docker("ps", "-aq").stdout.strip() != ""
    lab.compose("down", "-v", "--timeout", "5", timeout=180)
    assert lab.engine.docker("ps", "-aq").stdout.strip() == "", "containers left after down"
    networks = lab.engine.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert sorted(networks) == ["host", "none"], networks
    pid = lab.engine.process.pid
    lab.take_down()
    assert lab.engine.process.poll() is not None, f"dockerd {pid} still running"
    left = root_links()
    assert "docker0" not in left
    assert not ({lab.bridge} | lab.ports) & left, f"links left in the root namespace: { ({lab.bridge} | lab.ports) }"
    assert not docker.processes_under(lab.engine.root), "processes of the engine left"
    assert not docker.mounts_under(lab.engine.root), "mounts of the engine left"
    assert not lab.engine.root.exists()
