"""Routing-tier fixtures: a router namespace with an on-link LAN (192.168.1.0/24) and 20 foreign routes; the
dual-stack router adds an on-link IPv6 LAN (fd7a:1ab::/64) and 12 foreign IPv6 routes."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import pytest

from hubnet.linux.netns import path_of
from hubnet.server.domain.routes import DesiredRoute, NodeRef, Route
from tests.support.netns import netns
from tests.support.prereq import need, need_root_netns

pytestmark = pytest.mark.netns

PROTO = 44

# 20 routes other people own: `proto kernel|boot|static|bird|zebra`, 3 inside the cluster CIDR 10.244.0.0/16,
# one in another table. None of them may ever change.
FOREIGN = [
    "172.16.1.0/24 dev hnt-lan0 proto kernel",
    "172.16.2.0/24 dev hnt-lan0 proto kernel",
    "172.16.3.0/24 dev hnt-lan0 proto kernel scope link",
    "default via 192.168.1.254 proto boot",
    "10.1.0.0/16 via 192.168.1.253 proto boot",
    "10.2.0.0/16 via 192.168.1.253 proto boot metric 10",
    "10.3.0.0/16 via 192.168.1.252 proto boot",
    "10.10.0.0/16 via 192.168.1.251 proto static",
    "10.11.0.0/16 via 192.168.1.251 proto static",
    "10.12.0.0/16 via 192.168.1.251 proto static table 100",
    "10.13.0.0/24 via 192.168.1.251 proto static",
    "10.244.200.0/24 via 192.168.1.250 proto static",
    "10.244.201.0/24 via 192.168.1.249 proto bird",
    "10.244.10.0/24 via 192.168.1.248 proto zebra metric 100",
    "10.20.0.0/16 via 192.168.1.249 proto bird",
    "10.21.0.0/16 via 192.168.1.249 proto bird",
    "10.22.0.0/16 via 192.168.1.249 proto bird",
    "10.30.0.0/16 via 192.168.1.248 proto zebra",
    "10.31.0.0/16 via 192.168.1.248 proto zebra",
    "10.32.0.0/16 via 192.168.1.248 proto zebra",
]


# 12 IPv6 routes other people own, 3 inside the cluster CIDR fd00:10:244::/56, one in another table.
FOREIGN6 = [
    "fd01:1::/48 dev hnt-lan0 proto kernel",
    "default via fd7a:1ab::fe proto boot",
    "fd02:1::/48 via fd7a:1ab::fd proto boot",
    "fd02:2::/48 via fd7a:1ab::fd proto boot metric 10",
    "fd03:1::/48 via fd7a:1ab::fc proto static",
    "fd03:2::/48 via fd7a:1ab::fc proto static table 100",
    "fd03:3::/64 via fd7a:1ab::fc proto static",
    "fd00:10:244:c8::/64 via fd7a:1ab::fb proto static",
    "fd00:10:244:c9::/64 via fd7a:1ab::fa proto bird",
    "fd00:10:244:a::/64 via fd7a:1ab::f9 proto zebra metric 100",
    "fd04:1::/48 via fd7a:1ab::fa proto bird",
    "fd05:1::/48 via fd7a:1ab::f9 proto zebra",
]


def route(n: int, hop: int = 0) -> Route:
    """Node n's route: 10.244.n.0/24 via 192.168.1.(10+n) unless `hop` says otherwise."""
    return Route(IPv4Network(f"10.244.{n}.0/24"), IPv4Address(f"192.168.1.{hop or 10 + n}"))


def route6(n: int, hop: int = 0) -> Route:
    """Node n's IPv6 route: fd00:10:244:n::/64 (n in hex) via fd7a:1ab::(0x10+n) unless `hop` says otherwise."""
    prefix = IPv6Network((int(IPv6Address("fd00:10:244::")) + (n << 64), 64))
    return Route(prefix, IPv6Address(int(IPv6Address("fd7a:1ab::")) + (hop or 0x10 + n)))


def desired(count: int, start: int = 0) -> list[DesiredRoute]:
    return [DesiredRoute(f"node-{n}", route(n)) for n in range(start, start + count)]


def desired_dual(count: int, start: int = 0) -> list[DesiredRoute]:
    """A dual-stack node per n: its IPv4 and IPv6 route, both reporting onto the record keyed by its IPv4 address
    (the primary one), IPv4 first as the controller's desired set is."""
    nodes = range(start, start + count)
    v4 = [DesiredRoute(f"node-{n}", route(n), address=str(route(n).next_hop)) for n in nodes]
    v6 = [DesiredRoute(f"node-{n}", route6(n), address=str(route(n).next_hop)) for n in nodes]
    return v4 + v6


@dataclass
class Router:
    ns: str
    foreign: str = ""
    ipv6: bool = False
    reports: list[dict[str, tuple[str, str | None]]] = field(default_factory=list)

    def report(self, states: dict[NodeRef, tuple[str, str | None]]) -> None:
        """The Reconciler's report callback: keeps what was reported by node name."""
        self.reports.append({ref.name: state for ref, state in states.items()})

    def ip(self, *args: str, check: bool = True) -> str:
        """`ip ...` inside the router namespace (entered by path with nsenter)."""
        cmd = ["nsenter", f"--net={path_of(self.ns)}", "ip", *args]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if check and done.returncode:
            raise AssertionError(f"ip {' '.join(args)} failed in {self.ns}: {done.stderr.strip()}")
        return done.stdout

    def ours(self) -> set[Route]:
        """Our IPv4 routes as `ip` shows them (the observer is iproute2, not our own code)."""
        found = set()
        for line in self.ip("-4", "route", "show", "proto", str(PROTO)).splitlines():
            words = line.split()
            found.add(Route(IPv4Network(words[0]), IPv4Address(words[words.index("via") + 1])))
        return found

    def ours6(self) -> set[Route]:
        """Our IPv6 routes as `ip -6` shows them."""
        found = set()
        for line in self.ip("-6", "route", "show", "proto", str(PROTO)).splitlines():
            words = line.split()
            found.add(Route(IPv6Network(words[0]), IPv6Address(words[words.index("via") + 1])))
        return found

    def all_ours(self) -> set[Route]:
        return self.ours() | self.ours6()

    def count_ours(self, family: str = "-4") -> int:
        return len(self.ip(family, "route", "show", "proto", str(PROTO)).splitlines())

    def not_ours(self) -> str:
        """`ip route show table all` (and `ip -6 ...` when IPv6 is on) minus our lines: must stay byte-identical."""
        lines = self.ip("route", "show", "table", "all").splitlines(keepends=True)
        if self.ipv6:
            lines += self.ip("-6", "route", "show", "table", "all").splitlines(keepends=True)
        return "".join(line for line in lines if f"proto {PROTO} " not in line)


def wait_for(cond: Callable[[], bool], timeout: float, step: float = 0.02) -> float:
    """Poll `cond`; the seconds it took. Fails the test when `timeout` passes first."""
    start = time.monotonic()
    while not cond():
        assert time.monotonic() - start < timeout, f"not reached within {timeout}s"
        time.sleep(step)
    return time.monotonic() - start


@contextmanager
def anonymous_netns() -> Iterator[str]:
    """A fresh namespace held by a `sleep` process, addressed as /proc/PID/ns/net.

    Why not a name under /var/run/netns: any pytest session on the machine sweeps every `hnt-*` name when it
    ends, which pulled the router out from under running tests. An unnamed namespace cannot be swept, and it
    disappears with its holder (killed on exit), links and routes included, even if the test process dies.
    """
    holder = subprocess.Popen(["unshare", "--net", "sleep", "infinity"])
    path = f"/proc/{holder.pid}/ns/net"
    try:
        wait_for(lambda: os.readlink(path) != os.readlink("/proc/self/ns/net"), timeout=5, step=0.005)
        subprocess.run(["nsenter", f"--net={path}", "ip", "link", "set", "lo", "up"], check=True)
        yield path
    finally:
        holder.kill()
        holder.wait()


def build_router(ns: str, *, ipv6: bool = False) -> Router:
    r = Router(ns, ipv6=ipv6)
    if ipv6:
        # No link-local addresses (their routes would appear asynchronously, after DAD, and make "byte-identical"
        # flaky): the LAN gets a global address without DAD, usable at once, as the next hops' on-link network.
        sysctls: tuple[str, ...] = (
            "net.ipv6.conf.all.addr_gen_mode=1",
            "net.ipv6.conf.default.addr_gen_mode=1",
            "net.ipv6.conf.all.forwarding=1",
        )
    else:
        # IPv6 link-local routes appear asynchronously (DAD) and would make "byte-identical" flaky; IPv4 only.
        sysctls = ("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
    subprocess.run(["nsenter", f"--net={path_of(ns)}", "sysctl", "-qw", *sysctls], check=True)
    r.ip("link", "add", "hnt-lan0", "type", "veth", "peer", "name", "hnt-lan1")
    for link in ("hnt-lan0", "hnt-lan1"):
        r.ip("link", "set", link, "up")
    r.ip("addr", "add", "192.168.1.1/24", "dev", "hnt-lan0")
    for spec in FOREIGN:
        r.ip("route", "add", *spec.split())
    if ipv6:
        r.ip("addr", "add", "fd7a:1ab::1/64", "dev", "hnt-lan0", "nodad")
        for spec in FOREIGN6:
            r.ip("-6", "route", "add", *spec.split())
    r.foreign = r.not_ours()
    assert r.foreign.count("\n") >= (20 + 12 if ipv6 else 20)
    return r


@pytest.fixture
def router() -> Iterator[Router]:
    """The router: an anonymous namespace with the LAN and the 20 foreign routes."""
    need_root_netns()
    need(all(shutil.which(tool) for tool in ("unshare", "nsenter")), "needs util-linux unshare and nsenter")
    with anonymous_netns() as ns:
        yield build_router(ns)


@pytest.fixture
def router6() -> Iterator[Router]:
    """The dual-stack router: the same, plus fd7a:1ab::1/64 on the LAN, IPv6 forwarding and 12 foreign IPv6
    routes."""
    need_root_netns()
    need(all(shutil.which(tool) for tool in ("unshare", "nsenter")), "needs util-linux unshare and nsenter")
    with anonymous_netns() as ns:
        yield build_router(ns, ipv6=True)


@pytest.fixture
def named_router() -> Iterator[Router]:
    """The same router in a named `hnt-rtr-*` namespace (HUBNET_ROUTER_NETNS=<name>, as the lab uses it)."""
    need_root_netns()
    need(shutil.which("nsenter") is not None, "needs util-linux nsenter")
    with netns("rtr") as name:
        yield build_router(name)
