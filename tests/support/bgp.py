"""BGP test helpers: a LAN of namespaces (a speaker holding the bridge, routers attached to it) and a tiny real
BGP speaker (`gobgpd` + the `gobgp` CLI) that announces routes with explicit next hops.

Everything is named `hbgp…`, every process dies with the test process (PDEATHSIG) and is stopped by pid, every
namespace is deleted in `finally`, even when the test fails.
"""

from __future__ import annotations

import ctypes
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path

from hubnet.lab import procs
from hubnet.lab.bgprouter import FRR_DIR
from tests.support.netns import sh

PROGRAMS = ("gobgpd", "gobgp", "bird", "birdc", str(FRR_DIR / "zebra"), str(FRR_DIR / "bgpd"), "vtysh")
LAN4 = "192.0.2"  # TEST-NET-1: speaker .2, routers .1 and .3, node next hops .11, .12, ...
LAN6 = "2001:db8:1::"
SPEAKER4, SPEAKER6 = IPv4Address(f"{LAN4}.2"), IPv6Address(f"{LAN6}2")
PR_SET_PDEATHSIG = 1


def router4(i: int = 1) -> IPv4Address:
    return IPv4Address(f"{LAN4}.{1 if i == 1 else i + 1}")


def router6(i: int = 1) -> IPv6Address:
    return IPv6Address(f"{LAN6}{1 if i == 1 else i + 1}")


def node4(n: int) -> str:
    return f"{LAN4}.{10 + n}"


def node6(n: int) -> str:
    return f"{LAN6}{10 + n:x}"


@dataclass
class Lan:
    """The speaker's namespace (bridge `hbgpbr`) and the routers' namespaces, each on a port of the bridge."""

    tag: str
    speaker: str
    routers: list[str] = field(default_factory=list)


@contextmanager
def lan(routers: int = 1) -> Iterator[Lan]:
    """A speaker namespace at 192.0.2.2 / 2001:db8:1::2 and `routers` router namespaces at .1 (::1), .3 (::3)..."""
    tag = secrets.token_hex(3)
    net = Lan(tag, f"hbgp-{tag}-s", [f"hbgp-{tag}-r{i}" for i in range(1, routers + 1)])
    try:
        _add_ns(net.speaker)
        sh("ip", "link", "add", "hbgpbr", "type", "bridge", ns=net.speaker)
        sh("ip", "link", "set", "hbgpbr", "up", ns=net.speaker)
        _address(net.speaker, "hbgpbr", f"{SPEAKER4}/24", f"{SPEAKER6}/64")
        for i, router in enumerate(net.routers, start=1):
            _add_ns(router)
            _attach(net, router, i)
        yield net
    finally:
        for name in [*net.routers, net.speaker]:
            procs.stop(procs.pids_in_netns([name]), timeout=2.0)
            sh("ip", "netns", "del", name, check=False)


def _add_ns(name: str) -> None:
    sh("ip", "netns", "add", name)
    sh("ip", "link", "set", "lo", "up", ns=name)


def _address(ns: str, link: str, v4: str, v6: str) -> None:
    sh("ip", "addr", "add", v4, "dev", link, ns=ns)
    sh("ip", "addr", "add", v6, "dev", link, "nodad", ns=ns)


def _attach(net: Lan, router: str, i: int) -> None:
    port, inside = f"hbgp{net.tag}p{i}", "hbgp0"
    sh("ip", "link", "add", port, "netns", net.speaker, "type", "veth", "peer", "name", inside, "netns", router)
    sh("ip", "link", "set", port, "master", "hbgpbr", "up", ns=net.speaker)
    _address(router, inside, f"{router4(i)}/24", f"{router6(i)}/64")
    sh("ip", "link", "set", inside, "up", ns=router)


@dataclass(frozen=True)
class Peer:
    """A neighbour of the test speaker (a router)."""

    address: IPv4Address | IPv6Address
    asn: int
    password: str | None = None
    multihop: int | None = None


class GoBgp:
    """gobgpd in a namespace from a small TOML file, driven by the `gobgp` CLI over its gRPC port; graceful restart
    with the notification bit on both families, as hubnet's speaker advertises it."""

    def __init__(self, netns: str, workdir: Path, peers: Sequence[Peer], asn: int = 64512) -> None:
        self.netns, self.workdir, self.peers, self.asn = netns, workdir, list(peers), asn
        self.api = 50051
        self.proc: subprocess.Popen[bytes] | None = None

    def toml(self) -> str:
        text = f'[global.config]\n  as = {self.asn}\n  router-id = "{SPEAKER4}"\n'
        for peer in self.peers:
            text += f'\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "{peer.address}"\n'
            text += f"    peer-as = {peer.asn}\n"
            if peer.password:
                text += f'    auth-password = "{peer.password}"\n'
            if peer.multihop:
                text += f"  [neighbors.ebgp-multihop.config]\n    enabled = true\n    multihop-ttl = {peer.multihop}\n"
            text += "  [neighbors.timers.config]\n    connect-retry = 1\n"
            text += "  [neighbors.graceful-restart.config]\n    enabled = true\n    restart-time = 120\n"
            text += "    notification-enabled = true\n"
            for family in ("ipv4-unicast", "ipv6-unicast"):
                text += "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n"
                text += f'      afi-safi-name = "{family}"\n'
                text += "    [neighbors.afi-safis.mp-graceful-restart.config]\n      enabled = true\n"
        return text

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "gobgpd.toml"
        config.write_text(self.toml())
        argv = ["gobgpd", "-f", str(config), "-t", "toml", "--api-hosts", f"127.0.0.1:{self.api}", "--pprof-disable"]
        with open(self.workdir / "gobgpd.log", "ab") as log:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.netns, *argv],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        wait_for(lambda: self._cli("global").returncode == 0, 10, "gobgpd answering")

    def kill(self) -> None:
        """SIGKILL: no NOTIFICATION, the routers keep the routes (graceful restart)."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
            self.proc = None

    def add(self, prefix: str, nexthop: str) -> None:
        self._ok("global", "rib", "add", *self._family(prefix), prefix, "nexthop", nexthop)

    def delete(self, prefix: str) -> None:
        self._ok("global", "rib", "del", *self._family(prefix), prefix)

    def _family(self, prefix: str) -> list[str]:
        return ["-a", "ipv6"] if ":" in prefix else []

    def _ok(self, *args: str) -> None:
        done = self._cli(*args)
        assert done.returncode == 0, done.stdout + done.stderr

    def _cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return sh("gobgp", "-p", str(self.api), *args, ns=self.netns, check=False)


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def wait_for(check: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def kernel_routes(netns: str, family: int, proto: str) -> dict[str, str]:
    """prefix -> gateway of the routes of `proto` (bird, bgp) in the main table of `netns`."""
    out = sh("ip", f"-{family}", "-o", "route", "show", "proto", proto, ns=netns).stdout
    found = {}
    for line in out.splitlines():
        words = line.split()
        if "via" in words:
            found[words[0]] = str(ip_address(words[words.index("via") + 1]))
    return found
