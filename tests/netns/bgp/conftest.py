"""BGP-tier fixtures: a LAN of namespaces (tests.support.bgp.lan: the speaker's namespace at 192.0.2.2 /
2001:db8:1::2, routers at .1 and .3), real routers (BIRD 2 / FRR from hubnet.lab.bgprouter), hubnet's own speaker
(gobgpd inside the speaker's namespace, driven by hubnet.server.bgp.speaker from this process), and a watcher of
the router's kernel table (`ip monitor route`) that sees every route deleted, however briefly.

Everything is removed in `finally`: routers and speakers by pid, then the namespaces (the LAN also stops whatever
still runs in them). gobgpd dies with the test process anyway (PDEATHSIG).
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from pathlib import Path

import pytest

from hubnet.lab.bgprouter import BgpRouter, Neighbor, make_router
from hubnet.server.bgp.peers import PeerSpec
from hubnet.server.bgp.speaker import Speaker, SpeakerConfig
from hubnet.server.domain.routes import Route
from tests.support.bgp import PROGRAMS, SPEAKER4, Lan, kernel_routes, lan, node4, node6, router4
from tests.support.prereq import need_programs, need_root_netns

ASN = 64512
KINDS = [pytest.param("bird", id="bird"), pytest.param("frr", id="frr")]
PROTO = {"bird": "bird", "frr": "bgp"}  # the kernel route protocol each router installs its BGP routes with
ESTABLISH = 30.0  # seconds for a session to come up and the table to land (~5 s idle: the routers' connect retry)


def route4(n: int, hop: int = 0) -> Route:
    """Node n's route: 10.244.n.0/24 via 192.0.2.(10+n), or via node `hop`'s address."""
    return Route(IPv4Network(f"10.244.{n}.0/24"), IPv4Address(node4(hop or n)))


def route6(n: int, hop: int = 0) -> Route:
    """Node n's IPv6 route: fd00:10:244:n::/64 via 2001:db8:1::(10+n), or via node `hop`'s address."""
    return Route(IPv6Network(f"fd00:10:244:{n:x}::/64"), IPv6Address(node6(hop or n)))


def as_table(routes: list[Route]) -> dict[str, str]:
    """What the router's kernel table must hold for `routes`: prefix → next hop, as `ip route` prints them."""
    return {str(r.prefix): str(r.next_hop) for r in routes}


def kernel(router: BgpRouter) -> dict[str, str]:
    """The router's BGP routes in its kernel table, both families (observed with iproute2, not our code)."""
    proto = PROTO[router.kind]
    return {**kernel_routes(router.netns, 4, proto), **kernel_routes(router.netns, 6, proto)}


def wait_for(check: Callable[[], object], timeout: float, what: str, step: float = 0.1) -> float:
    """Poll `check` until true; the seconds it took. Fails the test with `what` when time runs out."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(step)
    return time.monotonic() - start


def session(speaker: Speaker, address: object) -> str:
    return next((p.state for p in speaker.peers(counters=False) if p.address == str(address)), "absent")


@pytest.fixture
def bgp_lan() -> Iterator[Lan]:
    """The speaker's namespace and two router namespaces on one LAN."""
    need_root_netns()
    need_programs(*PROGRAMS)
    with lan(routers=2) as built:
        yield built


class Routers:
    """Routers a test starts; every one is stopped afterwards, even when the test failed."""

    def __init__(self, net: Lan, workdir: Path) -> None:
        self.net, self.workdir = net, workdir
        self.started: list[BgpRouter] = []

    def start(self, kind: str, i: int = 1, password: str | None = None, asn: int = ASN) -> BgpRouter:
        """Router `i` of `kind`, with hubnet's speaker (192.0.2.2) as its one neighbour."""
        neighbors = [Neighbor(SPEAKER4, ASN, password=password, multihop=None if asn == ASN else 2)]
        r = make_router(kind, self.net.routers[i - 1], asn, router4(i), neighbors, self.workdir / f"{kind}-r{i}")
        self.started.append(r)
        r.start()
        return r


@pytest.fixture
def routers(bgp_lan: Lan, tmp_path: Path) -> Iterator[Routers]:
    made = Routers(bgp_lan, tmp_path)
    try:
        yield made
    finally:
        for r in made.started:
            r.kill()  # a crash, not a clean stop: faster, and nothing is left to tell anyone


class Speakers:
    """hubnet speakers (gobgpd in the LAN's speaker namespace); all stopped afterwards."""

    def __init__(self, net: Lan) -> None:
        self.net = net
        self.started: list[Speaker] = []

    def config(self, **kw: object) -> SpeakerConfig:
        return SpeakerConfig(asn=ASN, router_id=SPEAKER4, netns=self.net.speaker, **kw)  # type: ignore[arg-type]

    def start(self, **kw: object) -> Speaker:
        speaker = Speaker(self.config(**kw))
        self.started.append(speaker)
        speaker.start()
        return speaker


@pytest.fixture
def speakers(bgp_lan: Lan) -> Iterator[Speakers]:
    made = Speakers(bgp_lan)
    try:
        yield made
    finally:
        for s in made.started:
            s.stop()


def peer(i: int = 1, password: str | None = None, asn: int = ASN) -> PeerSpec:
    return PeerSpec(router4(i), asn, password=password, multihop=None if asn == ASN else 2)


class RouteWatch:
    """`ip -o monitor route` inside a namespace: every route added, replaced and deleted while it runs."""

    def __init__(self, netns: str) -> None:
        self.lines: list[str] = []
        self._proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, "ip", "-o", "monitor", "route"],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        time.sleep(0.2)  # the netlink subscription is in place before anything is changed

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self.lines.append(line.strip())

    def deleted(self, prefixes: set[str]) -> list[str]:
        """The deletions of any of `prefixes` seen so far."""
        return [line for line in self.lines if line.startswith("Deleted ") and line.split()[1] in prefixes]

    def stop(self) -> None:
        self._proc.kill()
        self._proc.wait()
        self._reader.join(2)


@pytest.fixture
def watch() -> Iterator[Callable[[str], RouteWatch]]:
    """watch(netns) → a RouteWatch, stopped after the test."""
    made: list[RouteWatch] = []

    def start(netns: str) -> RouteWatch:
        made.append(RouteWatch(netns))
        return made[-1]

    try:
        yield start
    finally:
        for w in made:
            w.stop()
