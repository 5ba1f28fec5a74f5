"""`hubnet lab check`: every ordered pod pair connects over TCP, and the receiver sees the sender's own address.

One process does it all without entering any namespace itself: each socket is created inside the pod's
namespace (a thread that setns'es, see `labnet.socket_in`) and keeps that namespace for its whole life. Each
pod gets a responder that answers every connection with the peer address it saw and its own pod name; each
source pod connects to every target. A pair passes when the right pod answered and saw the source pod's IP.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from ipaddress import IPv4Network
from typing import Any

from hubnet.lab import icmp
from hubnet.lab.plan import ROUTER_ADDRESS
from hubnet.lab.state import LabState, PodState
from hubnet.linux.labnet import socket_in
from hubnet.net import gateway

CHECK_PORT = 40007
CONNECT_TIMEOUT = 2.0
WORKERS = 16
TRANSLATED = "source address translated"


@dataclass(frozen=True)
class Pod:
    node: str
    name: str
    netns: str
    ip: str
    gateway: str


@dataclass
class Pair:
    source: str
    target: str
    ok: bool
    seen: str | None = None  # the source address the target saw
    error: str | None = None

    @property
    def translated(self) -> bool:
        return self.error == TRANSLATED


@dataclass
class Reach:
    pod: str
    target: str  # "gateway" | "router"
    address: str
    ok: bool


@dataclass
class CheckReport:
    pods: list[Pod]
    pairs: list[Pair] = field(default_factory=list)
    reach: list[Reach] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.pods) and all(p.ok for p in self.pairs) and all(r.ok for r in self.reach)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "pairs_total": len(self.pairs),
            "pairs_ok": sum(p.ok for p in self.pairs),
            "pairs_translated": sum(p.translated for p in self.pairs),
            "reach_total": len(self.reach),
            "reach_ok": sum(r.ok for r in self.reach),
            "pods": [asdict(p) for p in self.pods],
            "pairs": [asdict(p) for p in self.pairs],
            "reach": [asdict(r) for r in self.reach],
        }


def lab_pods(state: LabState) -> list[Pod]:
    """The attached pods of a lab with their gateway (the first host of their node's subnet)."""
    pods = []
    for node, items in state.node_pods.items():
        subnet = state.subnets.get(node)
        gw = str(gateway(IPv4Network(subnet))) if subnet else ""
        pods += [_pod(node, p, gw) for p in items if p.ip]
    return pods


def _pod(node: str, p: PodState, gw: str) -> Pod:
    return Pod(node=node, name=p.name, netns=p.netns, ip=str(p.ip), gateway=gw)


def run_check(state: LabState) -> CheckReport:
    """Probe every ordered pair and every pod's gateway and router; never raises for a network failure."""
    report = CheckReport(pods=lab_pods(state))
    with _Responders(report.pods) as _:
        pairs = [(s, t) for s in report.pods for t in report.pods if s is not t]
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            report.pairs = list(pool.map(lambda st: probe(*st), pairs))
            report.reach = [r for rs in pool.map(_reach, report.pods) for r in rs]
    return report


def probe(source: Pod, target: Pod) -> Pair:
    """Connect from `source`'s namespace to `target`'s responder; compare what it saw with `source.ip`."""
    sock = socket_in(source.netns)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        sock.connect((target.ip, CHECK_PORT))
        reply = sock.makefile("r").readline().split()
    except OSError as exc:
        return Pair(source.name, target.name, ok=False, error=str(exc) or type(exc).__name__)
    finally:
        sock.close()
    if len(reply) != 2 or reply[1] != target.name:
        return Pair(source.name, target.name, ok=False, error=f"unexpected answer {reply!r}")
    seen = reply[0]
    if seen != source.ip:
        return Pair(source.name, target.name, ok=False, seen=seen, error=TRANSLATED)
    return Pair(source.name, target.name, ok=True, seen=seen)


def _reach(pod: Pod) -> list[Reach]:
    sock = socket_in(pod.netns, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    try:
        targets = [("gateway", pod.gateway), ("router", str(ROUTER_ADDRESS))]
        return [Reach(pod.name, kind, addr, bool(addr) and icmp.reachable(sock, addr)) for kind, addr in targets]
    finally:
        sock.close()


class _Responders:
    """A listening socket per pod (bound to the pod's IP, inside its namespace) served by one selector thread."""

    def __init__(self, pods: list[Pod]) -> None:
        self.selector = selectors.DefaultSelector()
        self.stop = threading.Event()
        self.sockets: list[socket.socket] = []
        for pod in pods:
            sock = socket_in(pod.netns)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((pod.ip, CHECK_PORT))
            sock.listen(256)
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ, pod.name)
            self.sockets.append(sock)
        self.thread = threading.Thread(target=self._serve, name="lab-check-responders", daemon=True)

    def __enter__(self) -> _Responders:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()
        self.selector.close()

    def _serve(self) -> None:
        while not self.stop.is_set():
            for key, _ in self.selector.select(timeout=0.1):
                listener: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    conn, (peer, _port) = listener.accept()
                except BlockingIOError:
                    continue
                with conn:
                    conn.setblocking(True)
                    conn.settimeout(1.0)
                    with contextlib.suppress(OSError):
                        conn.sendall(f"{peer} {key.data}\n".encode())
