"""A node for tests: its own netns, the real agent process inside it, a runtime that runs the installed plugin."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from hubnet.node.runtime import PluginError, Runtime
from tests.support.netns import new_name

HUBNET = os.path.join(os.path.dirname(sys.executable), "hubnet")
PYTHON = sys.executable
# Our namespaces are bind-mounted here, not under /var/run/netns: the session-end sweep of `hnt-*` names in
# tests/conftest.py (run by every other concurrent pytest session on this machine) would delete them mid-test.
NS_DIR = "/run/hnt-node-tests"


def make_ns(tag: str) -> str:
    """A new network namespace pinned at NS_DIR/hnt-<tag>-<random>, `lo` up; returns its path."""
    os.makedirs(NS_DIR, exist_ok=True)
    path = os.path.join(NS_DIR, new_name(tag))
    open(path, "w").close()
    subprocess.run(["unshare", f"--net={path}", "true"], check=True)
    nsrun(path, "ip", "link", "set", "lo", "up")
    return path


def drop_ns(path: str) -> None:
    subprocess.run(["umount", "-l", path], capture_output=True, check=False)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def nsrun(path: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", f"--net={path}", *cmd], capture_output=True, text=True, check=check)


@dataclass
class Node:
    """A node namespace with a running agent (fixed subnets: no controller) and the dirs a runtime needs. `subnet`
    and `subnet6` (either may be empty, not both) are the node's IPv4 and IPv6 subnets."""

    subnet: str = "10.244.7.0/24"
    subnet6: str = ""
    ns: str = ""
    root: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="hnt-node-"))
    proc: subprocess.Popen[bytes] | None = None
    pods: list[str] = field(default_factory=list)
    extra_args: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        return os.path.join(self.root, "state")

    @property
    def conf(self) -> str:
        return os.path.join(self.root, "conf")

    @property
    def bin(self) -> str:
        return os.path.join(self.root, "bin")

    @property
    def plugin(self) -> str:
        return os.path.join(self.bin, "hubnet")

    @property
    def ipam_dir(self) -> str:
        return os.path.join(self.state, "ipam", self.subnet.replace("/", "_"))

    @property
    def ipam_dir6(self) -> str:
        return os.path.join(self.state, "ipam", self.subnet6.replace("/", "_"))

    @property
    def runtime(self) -> Runtime:
        return Runtime(state_dir=os.path.join(self.root, "runtime"), conf_dir=self.conf, bin_dir=self.bin)

    def create(self) -> Node:
        self.ns = make_ns("node")
        self.start_agent()
        return self

    def agent_args(self) -> list[str]:
        dirs = ["--state-dir", self.state, "--cni-conf-dir", self.conf, "--cni-bin-dir", self.bin]
        subnets = ",".join(s for s in (self.subnet, self.subnet6) if s)
        cidrs = ",".join(c for s, c in ((self.subnet, "10.244.0.0/16"), (self.subnet6, "fd00:10:244::/56")) if s)
        args = self.extra_args or ["--fixed-subnet", subnets, "--cluster-cidr", cidrs]
        return ["nsenter", f"--net={self.ns}", HUBNET, "node", "join", *args, *dirs]

    def start_agent(self, env: dict[str, str] | None = None, wait: bool = True) -> None:
        log = open(os.path.join(self.root, "agent.log"), "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            self.agent_args(), stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        log.close()
        if wait:
            self.wait_listening()

    def wait_listening(self, timeout: float = 20.0) -> None:
        path = os.path.join(self.state, "agent.sock")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.log()
            if os.path.exists(os.path.join(self.conf, "10-hubnet.conflist")) and _connectable(path):
                return
            time.sleep(0.05)
        raise TimeoutError(f"agent not listening after {timeout}s:\n{self.log()}")

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Until STATUS answers 0 (the agent re-confirmed readiness with the controller)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.runtime.status()
                return
            except PluginError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop_agent(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def log(self) -> str:
        try:
            with open(os.path.join(self.root, "agent.log")) as f:
                return f.read()[-4000:]
        except FileNotFoundError:
            return ""

    def destroy(self) -> None:
        self.stop_agent(signal.SIGKILL)
        for pod in self.pods:
            drop_ns(pod)
        if self.ns:
            drop_ns(self.ns)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- pods --------------------------------------------------------------------------------------------------
    def new_pod_netns(self) -> str:
        path = make_ns("pod")
        self.pods.append(path)
        return path

    def add(self, cid: str, pod_ns: str, ifname: str = "eth0") -> dict[str, Any]:
        return self.runtime.add(cid, pod_ns, ifname)

    def reservations(self) -> list[str]:
        if not self.subnet or not os.path.isdir(self.ipam_dir):
            return []
        return sorted(n for n in os.listdir(self.ipam_dir) if n[0].isdigit())

    def reservations6(self) -> list[str]:
        """The IPv6 store's address files (named by address, as host-local's: they all hold a ':')."""
        if not self.subnet6 or not os.path.isdir(self.ipam_dir6):
            return []
        return sorted(n for n in os.listdir(self.ipam_dir6) if ":" in n)

    def host_veths(self) -> list[str]:
        out = nsrun(self.ns, "ip", "-o", "link", "show").stdout
        return [line.split(": ")[1].split("@")[0] for line in out.splitlines() if ": veth" in line]

    def exec_plugin(self, env: dict[str, str], stdin: bytes | str, cwd: str | None = None) -> tuple[int, Any]:
        """Run the installed plugin with exactly this environment and stdin (no defaults added)."""
        data = stdin.encode() if isinstance(stdin, str) else stdin
        proc = subprocess.run([self.plugin], input=data, env=env, capture_output=True, cwd=cwd, timeout=30)
        return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else None

    def plugin_config(self, **extra: Any) -> dict[str, Any]:
        with open(os.path.join(self.conf, "10-hubnet.conflist")) as f:
            conflist = json.load(f)
        return {**conflist["plugins"][0], "cniVersion": "1.1.0", "name": conflist["name"], **extra}


def _connectable(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


PING_CODE = """
import socket, struct, sys, time
dst, timeout = sys.argv[1], float(sys.argv[2])
six = ":" in dst
family, proto, request, reply = (
    (socket.AF_INET6, socket.IPPROTO_ICMPV6, 128, 129) if six else (socket.AF_INET, socket.IPPROTO_ICMP, 8, 0)
)
s = socket.socket(family, socket.SOCK_RAW, proto)
body = struct.pack("!HH", 0x4E54, 1) + b"hubnet-ping"
def checksum(data):
    data += b"\\0" * (len(data) % 2)
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF
packet = struct.pack("!BBH", request, 0, 0) + body  # ICMPv6: the kernel fills in the checksum
if not six:
    packet = struct.pack("!BBH", request, 0, checksum(packet)) + body
s.sendto(packet, (dst, 0))
deadline = time.monotonic() + timeout
while (left := deadline - time.monotonic()) > 0:
    s.settimeout(left)
    try:
        data, _ = s.recvfrom(2048)
    except TimeoutError:
        break
    icmp = data if six else data[(data[0] & 0x0F) * 4:]
    if icmp[0] == reply and icmp[4:] == body:
        sys.exit(0)
sys.exit("no echo reply from " + dst)
"""


def ping(ns: str, dst: str, timeout: float = 1.0) -> subprocess.CompletedProcess[str]:
    """One ICMP / ICMPv6 echo from `ns` to `dst`, no retry (raw socket: no `ping` binary needed); returncode 0 when
    the reply came within `timeout`."""
    return nsrun(ns, PYTHON, "-c", PING_CODE, dst, str(timeout), check=False)


def tcp_probe(src_ns: str, dst_ns: str, dst_ip: str, port: int = 7070) -> str:
    """Open a TCP connection from `src_ns` to `dst_ip:port` served in `dst_ns`; returns the source the server saw."""
    family = "socket.AF_INET6" if ":" in dst_ip else "socket.AF_INET"
    server_code = (
        f"import socket,sys;s=socket.socket({family});s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
        f"s.bind(('{dst_ip}',{port}));s.listen();print('up',flush=True);s.settimeout(10);"
        "c,a=s.accept();c.sendall(a[0].encode());c.close()"
    )
    client_code = (
        "import socket,time\nfor i in range(50):\n try:\n"
        f"  c=socket.create_connection(('{dst_ip}',{port}),timeout=2);print(c.recv(100).decode());break\n"
        " except OSError as e:\n  err=e;time.sleep(0.1)\nelse:\n raise SystemExit(str(err))"
    )
    server = subprocess.Popen(
        ["nsenter", f"--net={dst_ns}", PYTHON, "-c", server_code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert server.stdout is not None and server.stderr is not None
        if server.stdout.readline().strip() != b"up":
            server.wait(5)
            raise AssertionError(f"server on {dst_ip}:{port} did not start: {server.stderr.read().decode()}")
        client = subprocess.run(
            ["nsenter", f"--net={src_ns}", PYTHON, "-c", client_code], capture_output=True, text=True, timeout=20
        )
        if client.returncode != 0:
            raise AssertionError(f"{src_ns} -> {dst_ip}:{port} failed: {client.stderr or client.stdout}")
        return client.stdout.strip()
    finally:
        server.kill()
        server.wait()


__all__ = ["HUBNET", "Node", "PluginError", "drop_ns", "make_ns", "nsrun", "ping", "tcp_probe"]
