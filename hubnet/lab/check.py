"""`hubnet lab check`: every ordered pod pair connects over TCP, over every address family of the lab, and the
receiver sees the sender's own address of that family.

One process does it all without entering any namespace itself: each socket is created inside the pod's
namespace (a thread that setns'es, see `labnet.socket_in`) and keeps that namespace for its whole life. Each
pod gets a responder that answers every connection with the peer address it saw and its own pod name; each
source pod connects to every target. A pair passes when the right pod answered and saw the source pod's IP.
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from ipaddress import ip_address, ip_network
from typing import Any

from hubnet.lab import icmp, tcpprobe
from hubnet.lab.forwarded import forwarded
from hubnet.lab.state import LabState, PodState
from hubnet.lab.tcpprobe import Pair
from hubnet.linux import labnet
from hubnet.linux.errors import LinuxError
from hubnet.linux.labnet import socket_in
from hubnet.net import gateway

WORKERS = 16  # parallel ICMP probes (each waits on its own raw socket)
RETRY_WINDOWS = (8, 2)  # second and third attempt at pairs that got no answer


@dataclass(frozen=True)
class Pod:
    node: str
    name: str
    netns: str
    ip: str  # the primary address (IPv4 when the lab has it)
    gateway: str
    ips: tuple[str, ...] = ()  # every family's, IPv4 first
    gateways: tuple[str, ...] = ()

    def of_family(self, family: int) -> Pod | None:
        """This pod as an endpoint of one family (its `ip` and `gateway` of that family), or None."""
        ip = next((a for a in self.ips if ip_address(a).version == family), None)
        if ip is None:
            return None
        gw = next((g for g in self.gateways if ip_address(g).version == family), "")
        return Pod(self.node, self.name, self.netns, ip, gw, (ip,), (gw,) if gw else ())


@dataclass
class Reach:
    pod: str
    target: str  # "gateway" | "router"
    address: str
    ok: bool
    family: int = 4


@dataclass
class CheckReport:
    pods: list[Pod]
    pairs: list[Pair] = field(default_factory=list)
    reach: list[Reach] = field(default_factory=list)
    mode: str = "hub"
    # IP datagrams the router namespace forwarded during the probes (None: not read); direct mode must see 0
    router_forwarded: int | None = None

    @property
    def ok(self) -> bool:
        crossed = self.mode == "direct" and self.router_forwarded != 0
        return bool(self.pods) and all(p.ok for p in self.pairs) and all(r.ok for r in self.reach) and not crossed

    def to_json(self) -> dict[str, Any]:
        families = sorted({p.family for p in self.pairs} | {r.family for r in self.reach})
        return {
            "ok": self.ok,
            "families": {
                str(f): {
                    "pairs_total": sum(p.family == f for p in self.pairs),
                    "pairs_ok": sum(p.ok and p.family == f for p in self.pairs),
                    "pairs_translated": sum(p.translated and p.family == f for p in self.pairs),
                    "reach_total": sum(r.family == f for r in self.reach),
                    "reach_ok": sum(r.ok and r.family == f for r in self.reach),
                }
                for f in families
            },
            "mode": self.mode,
            "router_forwarded": self.router_forwarded,
            "pairs_total": len(self.pairs),
            "pairs_ok": sum(p.ok for p in self.pairs),
            "pairs_translated": sum(p.translated for p in self.pairs),
            "pairs_retried": sum(p.attempts > 1 for p in self.pairs),
            "reach_total": len(self.reach),
            "reach_ok": sum(r.ok for r in self.reach),
            "pods": [asdict(p) for p in self.pods],
            "pairs": [asdict(p) for p in self.pairs],
            "reach": [asdict(r) for r in self.reach],
        }


def lab_pods(state: LabState) -> list[Pod]:
    """The attached pods of a lab with their gateways (the first host of each of their node's subnets)."""
    pods = []
    for node, items in state.node_pods.items():
        subnets = state.node_subnets.get(node) or [s for s in [state.subnets.get(node)] if s]
        gateways = tuple(str(gateway(ip_network(s))) for s in subnets)
        pods += [_pod(node, p, gateways) for p in items if p.ip]
    return pods


def _pod(node: str, p: PodState, gateways: tuple[str, ...]) -> Pod:
    ips = tuple(p.ips) or (str(p.ip),)
    return Pod(node, p.name, p.netns, str(p.ip), gateways[0] if gateways else "", ips, gateways)


def run_check(state: LabState) -> CheckReport:
    """Probe every ordered pair over every family of the lab, and every pod's gateway and router of each family;
    never raises for a network failure."""
    report = CheckReport(pods=lab_pods(state), mode=state.mode)
    plan = state.plan()
    routers = plan.router_addresses
    # every router namespace of the lab: the HA lab's r1 and r2, or the one router
    router_netns = [r.netns for r in plan.routers] or [plan.router_netns]
    before = _forwarded(router_netns)
    for family in state.families:
        endpoints = [e for p in report.pods if (e := p.of_family(family)) is not None]
        for pair in _probe_mesh(endpoints):
            pair.family = family
            report.pairs.append(pair)
        router = next((str(r) for r in routers if r.version == family), "")
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            for found in pool.map(lambda pod, r=router, f=family: _reach(pod, r, f), endpoints):
                report.reach += found
    after = _forwarded(router_netns)
    if before is not None and after is not None:
        report.router_forwarded = after - before
    return report


def _forwarded(namespaces: list[str]) -> int | None:
    try:
        return sum(forwarded(netns) for netns in namespaces)
    except (OSError, ValueError, IndexError, LinuxError):  # an HA lab's r1 may be down: the count is then not known
        return None


def _probe_mesh(pods: list[Pod]) -> list[Pair]:
    """All ordered pairs: across nodes first, then each node's own pairs, emptying that node's pods' ARP tables
    after them.

    Pods on one node reach each other directly (one ARP entry per peer), pods on other nodes through their
    gateway (one entry). The kernel's ARP table is shared by every namespace of the machine (gc_thresh3, 1024 by
    default), so a large lab's full mesh at once would overflow it; this order keeps the check's footprint to
    one node's mesh at a time.
    """
    cross = [(s, t) for s, t in tcpprobe.ordered_pairs(pods) if s.node != t.node]
    results = _probe_with_retries(pods, cross)
    for node in dict.fromkeys(p.node for p in pods):
        local = [p for p in pods if p.node == node]
        results += _probe_with_retries(pods, tcpprobe.ordered_pairs(local))
        for pod in local:
            labnet.flush_neighbours(pod.netns)
    order = {pod.name: i for i, pod in enumerate(pods)}
    return sorted(results, key=lambda r: (order[r.source], order[r.target]))


def _probe_with_retries(pods: list[Pod], pairs: list[tuple[Pod, Pod]]) -> list[Pair]:
    """Probe `pairs`; pairs that got no answer (timeout, unreachable) are probed again in smaller windows.

    On a loaded machine a burst of first contacts can lose an ARP exchange; a pair that answers on a later
    attempt is connected. A wrong answer (NAT, another pod) is final, never retried.
    """
    results = dict(zip(pairs, tcpprobe.probe_all(pods, pairs), strict=True))
    for window in RETRY_WINDOWS:
        again = [pair for pair, r in results.items() if not r.ok and r.seen is None and "answer" not in (r.error or "")]
        if not again:
            break
        for pair, result in zip(again, tcpprobe.probe_all(pods, again, window=window), strict=True):
            result.attempts = results[pair].attempts + 1
            results[pair] = result
    return list(results.values())


def _reach(pod: Pod, router: str, family: int) -> list[Reach]:
    if family == 6:
        sock = socket_in(pod.netns, socket.SOCK_RAW, socket.IPPROTO_ICMPV6, family=socket.AF_INET6)
    else:
        sock = socket_in(pod.netns, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    try:
        targets = [("gateway", pod.gateway), ("router", router)]
        return [
            Reach(pod.name, kind, addr, bool(addr) and icmp.reachable(sock, addr), family) for kind, addr in targets
        ]
    finally:
        sock.close()
