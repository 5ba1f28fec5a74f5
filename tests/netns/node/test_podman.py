"""hostPort through a real runtime (issue 15): podman with its CNI backend attaches a container through the node
agent's conflist — hubnet, then the chained reference `portmap` — and publishes a port (`-p`); the container is
reached on the node's address:hostPort from the node itself and from a pod on another node.

Two nodes (tests/netns/node/support.Node: a namespace each with the real agent, fixed subnets) joined by a veth
underlay, each routing the other's pod subnet via the other's address, as a router would. Podman runs inside node
A's namespace (so portmap programs node A's iptables) with every root of its own under /tmp/hnt-pm-… and
`network_backend = "cni"`, `cni_plugin_dirs` and `network_config_dir` pointing at node A's CNI dirs; the container
runs from a root filesystem of a few directories with the host's /usr mounted read-only (no image registry here).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from hubnet.node.agent.config import NETWORK_NAME
from tests.netns.node.support import PYTHON, Node, nsrun
from tests.support.prereq import need, need_root_netns

pytestmark = pytest.mark.netns
DEBIAN_CNI = "/usr/lib/cni"
PODMAN = "/usr/bin/podman"
CNI_CACHE = "/var/lib/cni"
A_IP, B_IP = "192.168.232.1", "192.168.232.2"
A_SUBNET, B_SUBNET = "10.244.41.0/24", "10.244.42.0/24"
HOST_PORT = 18081
# The container: answer one connection per client with the peer address it saw.
SERVE = (
    "import socket\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('0.0.0.0',80))\n"
    "s.listen();s.settimeout(120)\nwhile True:\n c,a=s.accept();c.sendall(a[0].encode());c.close()"
)
CONNECT = """
import socket, sys, time
for _ in range(50):  # the container may still be starting
    try:
        c = socket.create_connection((sys.argv[1], int(sys.argv[2])), 2)
        break
    except OSError:
        time.sleep(0.2)
else:
    raise SystemExit("no answer")
print(c.recv(100).decode())
"""
CONTAINERS_CONF = """[network]
network_backend = "cni"
cni_plugin_dirs = ["{bin}"]
network_config_dir = "{conf}"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{root}/events.log"
runtime = "runc"
"""
STORAGE_CONF = """[storage]
driver = "overlay"
graphroot = "{root}/storage"
runroot = "{root}/run"
"""


@dataclass
class Podman:
    root: Path
    node: Node

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CONTAINERS_CONF": str(self.root / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(self.root / "storage.conf"),
            "XDG_RUNTIME_DIR": str(self.root / "xdg"),
            "TMPDIR": str(self.root / "tmp"),
        }

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`podman args` inside node A's namespace."""
        argv = ["nsenter", f"--net={self.node.ns}", PODMAN, "--tmpdir", str(self.root / "tmp"), *args]
        done = subprocess.run(argv, env=self.env(), capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
        return done


def host_ulimits() -> list[str]:
    """Modest limits (at most ours, at most 4096): by default podman raises RLIMIT_NOFILE and RLIMIT_NPROC of the
    container to 1048576, which runc cannot do without CAP_SYS_RESOURCE (not in every test machine's bounding set).
    Our own hard limits were refused too (runc sets them for its init after conmon's own changes)."""
    limits = {"nofile": resource.RLIMIT_NOFILE, "nproc": resource.RLIMIT_NPROC}
    return [f"--ulimit={name}={min(resource.getrlimit(r)[1], 4096)}" for name, r in limits.items()]


def underlay(a: Node, b: Node) -> None:
    nsrun(a.ns, "ip", "link", "add", "hnu0", "type", "veth", "peer", "name", "hnu0", "netns", b.ns)
    for node, mine, peer, subnet in ((a, A_IP, B_IP, B_SUBNET), (b, B_IP, A_IP, A_SUBNET)):
        nsrun(node.ns, "ip", "addr", "add", f"{mine}/24", "dev", "hnu0")
        nsrun(node.ns, "ip", "link", "set", "hnu0", "up")
        nsrun(node.ns, "ip", "route", "add", subnet, "via", peer)


def rootfs(path: Path) -> None:
    """A container root of a few directories; /usr (merged-usr: every program) is the host's, mounted read-only."""
    for name in ("usr", "etc", "proc", "sys", "dev", "tmp", "run", "var/tmp"):
        (path / name).mkdir(parents=True, exist_ok=True)
    for name in ("bin", "sbin", "lib", "lib64"):
        if os.path.islink(f"/{name}"):
            (path / name).symlink_to(os.readlink(f"/{name}"))
    (path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (path / "etc/group").write_text("root:x:0:\n")


@pytest.fixture(scope="module")
def nodes() -> Iterator[tuple[Node, Node]]:
    need_root_netns()
    need(os.access(PODMAN, os.X_OK), f"needs {PODMAN} (scripts/bootstrap.sh installs podman)")
    need(os.access(f"{DEBIAN_CNI}/portmap", os.X_OK), f"needs {DEBIAN_CNI}/portmap (bootstrap.sh)")
    need(shutil.which("iptables") is not None, "needs iptables (portmap programs it)")
    a, b = Node(subnet=A_SUBNET), Node(subnet=B_SUBNET)
    os.makedirs(a.bin)
    shutil.copy(f"{DEBIAN_CNI}/portmap", a.bin)
    try:
        a.create()
        b.create()
        underlay(a, b)
        yield a, b
    finally:
        a.destroy()
        b.destroy()


@pytest.fixture(scope="module")
def podman(nodes: tuple[Node, Node]) -> Iterator[Podman]:
    a, _ = nodes
    cni_cache_existed = os.path.exists(CNI_CACHE)
    root = Path(tempfile.mkdtemp(prefix="hnt-pm-", dir="/tmp"))
    for name in ("tmp", "xdg"):
        (root / name).mkdir()
    (root / "containers.conf").write_text(CONTAINERS_CONF.format(bin=a.bin, conf=a.conf, root=root))
    (root / "storage.conf").write_text(STORAGE_CONF.format(root=root))
    rootfs(root / "rootfs")
    pm = Podman(root, a)
    try:
        yield pm
    finally:
        pm.run("rm", "--all", "--force", "--time", "0", check=False)
        subprocess.run(["umount", "-R", "-l", str(root / "storage")], capture_output=True, check=False)
        subprocess.run(["umount", "-R", "-l", str(root / "run")], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)
        if not cni_cache_existed:  # libcni's result cache: podman makes it; empty again once the container is gone
            with suppress(OSError):
                os.rmdir(f"{CNI_CACHE}/results")
                os.rmdir(CNI_CACHE)


def test_a_published_port_reaches_the_container_from_the_node_and_from_another_nodes_pod(
    nodes: tuple[Node, Node], podman: Podman
) -> None:
    a, b = nodes
    with open(os.path.join(a.conf, "10-hubnet.conflist")) as f:
        assert [p["type"] for p in json.load(f)["plugins"]] == ["hubnet", "portmap"]
    name = f"hnt-pm-{os.getpid()}"
    started = podman.run(
        "run", "-d", "--name", name, "--network", NETWORK_NAME, "-p", f"{HOST_PORT}:80/tcp",
        *host_ulimits(), "-v", "/usr:/usr:ro", "--rootfs", str(podman.root / "rootfs"), "/usr/bin/python3", "-c", SERVE,
    )  # fmt: skip
    assert started.stdout.strip(), started.stderr
    inspect = json.loads(podman.run("inspect", name).stdout)[0]
    container_ip = inspect["NetworkSettings"]["Networks"][NETWORK_NAME]["IPAddress"]
    assert container_ip.startswith("10.244.41."), inspect["NetworkSettings"]
    rules = nsrun(a.ns, "iptables-save", "-t", "nat").stdout
    assert f"--dport {HOST_PORT}" in rules and f"--to-destination {container_ip}:80" in rules, rules

    # from the node itself, on its own address
    got = nsrun(a.ns, PYTHON, "-c", CONNECT, A_IP, str(HOST_PORT), check=False)
    assert got.returncode == 0, got.stderr + podman.run("logs", name, check=False).stdout
    assert got.stdout.strip() == A_IP, got.stdout  # a local client's source is the address it dialled

    # from a pod on node B (its egress to a non-pod address leaves node B masqueraded as B_IP)
    pod = b.new_pod_netns()
    b.add(f"pm{os.getpid()}", pod)
    got = nsrun(pod, PYTHON, "-c", CONNECT, A_IP, str(HOST_PORT), check=False)
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == B_IP, got.stdout

    # podman removes the container through the chain: portmap's rules go with it
    podman.run("rm", "--force", "--time", "0", name)
    rules = nsrun(a.ns, "iptables-save", "-t", "nat").stdout
    assert str(HOST_PORT) not in rules and container_ip not in rules, rules
    assert not a.host_veths()
