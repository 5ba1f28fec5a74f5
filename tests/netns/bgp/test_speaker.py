"""hubnet's speaker (gobgpd driven over gRPC) against real routers, BIRD 2 and FRR, observed where a user looks:
the router's kernel table (`ip route`, `ip monitor route`) and the sessions both sides report."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from hubnet.lab.bgprouter import BgpRouter
from hubnet.server.bgp.speaker import Speaker
from hubnet.server.domain.routes import Route
from tests.netns.bgp.conftest import (
    ASN,
    ESTABLISH,
    KINDS,
    PROTO,
    Routers,
    RouteWatch,
    Speakers,
    as_table,
    kernel,
    peer,
    route4,
    route6,
    session,
    wait_for,
)
from tests.support.bgp import SPEAKER4, GoBgp, Lan, router4
from tests.support.bgp import Peer as GoBgpPeer
from tests.support.netns import sh

pytestmark = pytest.mark.netns

ROOT = Path(__file__).resolve().parents[3]
ROUTES = [route4(n) for n in range(1, 26)] + [route6(n) for n in range(1, 26)]  # 25 nodes, dual-stack


@pytest.mark.parametrize("kind", KINDS)
def test_the_routers_kernel_holds_exactly_subnet_via_node(kind: str, routers: Routers, speakers: Speakers) -> None:
    r = routers.start(kind)
    sh("ip", "route", "add", "203.0.113.0/24", "via", "192.0.2.250", "proto", "static", ns=r.netns)
    others = not_bgp(r)
    assert "203.0.113.0/24 via 192.0.2.250" in others
    speaker = speakers.start()
    assert speaker.add(ROUTES) == {}
    assert sorted(speaker.paths()) == sorted(ROUTES)
    speaker.set_peers([peer(1)])

    wait_for(lambda: kernel(r) == as_table(ROUTES), ESTABLISH, f"{kind}'s kernel table == the 50 routes")
    (status,) = speaker.peers()
    assert (status.address, status.state) == (str(router4(1)), "established")
    assert status.prefixes_sent == 50 and status.last_error is None and status.uptime_seconds is not None
    assert status.families == ["ipv4-unicast", "ipv6-unicast"] and status.graceful_restart
    assert not_bgp(r) == others  # the router's other routes (a static one among them) are untouched


def not_bgp(r: BgpRouter) -> str:
    """Every route of the router's namespace, both families, all tables, except the BGP ones and the kernel's own
    (link-local ones appear whenever DAD finishes)."""
    lines = sh("ip", "route", "show", "table", "all", ns=r.netns).stdout.splitlines()
    lines += sh("ip", "-6", "route", "show", "table", "all", ns=r.netns).stdout.splitlines()
    return "\n".join(line for line in lines if f"proto {PROTO[r.kind]}" not in line and "proto kernel" not in line)


def with_routes(kind: str, routers: Routers, speakers: Speakers) -> tuple[BgpRouter, Speaker]:
    """Router 1 of `kind` and a hubnet speaker that loaded ROUTES, then peered: the routes in the router's kernel."""
    r = routers.start(kind)
    speaker = speakers.start()
    speaker.add(ROUTES)
    speaker.set_peers([peer(1)])
    wait_for(lambda: kernel(r) == as_table(ROUTES), ESTABLISH, "the routes")
    return r, speaker


@pytest.mark.parametrize("kind", KINDS)
def test_delete_withdraws_and_a_new_next_hop_replaces_without_a_gap(
    kind: str, routers: Routers, speakers: Speakers, watch: Callable[[str], RouteWatch]
) -> None:
    r, speaker = with_routes(kind, routers, speakers)

    monitor = watch(r.netns)
    moved = [route4(1, hop=77), route4(2, hop=78)]
    assert speaker.add(moved) == {}  # one UPDATE each: the new next hop replaces the old, no withdraw first
    assert speaker.delete([route4(3), route6(3)]) == {}
    want = as_table(
        [
            *moved,
            *(x for x in ROUTES if x.prefix not in {m.prefix for m in moved} | {route4(3).prefix, route6(3).prefix}),
        ]
    )
    wait_for(lambda: kernel(r) == want, 10, "moved and withdrawn routes in the kernel")
    time.sleep(0.3)  # the monitor has seen everything the router did
    assert monitor.deleted({str(m.prefix) for m in moved}) == []  # never gone, not for an instant
    assert len(monitor.deleted({str(route4(3).prefix), str(route6(3).prefix)})) == 2
    assert speaker.delete([route4(3)]) == {}  # withdrawing what is not there is fine


def test_ipv6_next_hop_change_is_one_update_at_the_router(routers: Routers, speakers: Speakers) -> None:
    """BIRD's own kernel sync moves an IPv6 route by delete + add (its business); on the wire it is one UPDATE:
    BIRD counts no withdraw from us."""
    r, speaker = with_routes("bird", routers, speakers)
    speaker.add([route6(1, hop=77)])
    wait_for(lambda: kernel(r).get(str(route6(1).prefix)) == str(route6(1, hop=77).next_hop), 10, "the new hop")
    out = subprocess.run(
        ["birdc", "-s", str(r.workdir / "bird.ctl"), "show", "protocols", "all"], capture_output=True, text=True
    ).stdout
    withdraws = [line for line in out.splitlines() if "Import withdraws:" in line]
    assert withdraws and all(line.split()[2] == "0" for line in withdraws), withdraws


@pytest.mark.parametrize("kind", KINDS)
def test_md5_right_key_establishes_wrong_key_never_and_says_why(
    kind: str, routers: Routers, speakers: Speakers
) -> None:
    right = routers.start(kind, i=1, password="s3cret-key")
    wrong = routers.start(kind, i=2, password="other-key")
    speaker = speakers.start()
    speaker.add(ROUTES[:2])
    speaker.set_peers([peer(1, password="s3cret-key"), peer(2, password="s3cret-key")])
    wait_for(lambda: kernel(right) == as_table(ROUTES[:2]), ESTABLISH, "routes over the right key")
    for _ in range(30):  # 3 s more, with the right-key session long up
        assert session(speaker, router4(2)) in ("idle", "connect", "active")
        time.sleep(0.1)
    assert kernel(wrong) == {}
    status = {p.address: p for p in speaker.peers()}
    assert status[str(router4(1))].last_error is None
    error = status[str(router4(2))].last_error or ""
    assert "MD5 password" in error and "dropped" in error, error  # the router's SYNs carried the other key


@pytest.mark.parametrize("kind", KINDS)
def test_kill_9_and_stop_keep_the_routes_and_a_new_speaker_withdraws_what_vanished(
    kind: str, routers: Routers, speakers: Speakers, watch: Callable[[str], RouteWatch]
) -> None:
    r, first = with_routes(kind, routers, speakers)
    monitor = watch(r.netns)

    pid = first.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # the speaker crashes: no NOTIFICATION, the router keeps our routes (GR)
    wait_for(lambda: not first.running, 5, "gobgpd to die")
    time.sleep(2)
    assert kernel(r) == as_table(ROUTES)

    second = speakers.start()  # at once, on the same BGP port: nothing of the first one holds it
    kept = [x for x in ROUTES if x not in (route4(25), route6(25))]  # two nodes vanished meanwhile
    second.add(kept)
    second.set_peers([peer(1)])
    wait_for(lambda: kernel(r) == as_table(kept), ESTABLISH, "the vanished routes withdrawn after End-of-RIB")
    assert monitor.deleted({str(x.prefix) for x in kept}) == []  # no kept route ever left the kernel

    second.stop()  # a plain stop is a SIGKILL too: still no NOTIFICATION
    time.sleep(2)
    assert kernel(r) == as_table(kept)
    assert monitor.deleted({str(x.prefix) for x in kept}) == []


def test_the_speaker_dies_with_its_controller_even_when_a_worker_thread_started_it(
    bgp_lan: Lan, speakers: Speakers
) -> None:
    """PDEATHSIG: a controller that dies (kill -9) takes its gobgpd along, even one restarted by a thread that
    has ended since; the next controller binds the same BGP port at once."""
    code = (
        "import sys, threading, time\n"
        "from ipaddress import IPv4Address\n"
        "from hubnet.server.bgp.speaker import Speaker, SpeakerConfig\n"
        f"s = Speaker(SpeakerConfig(asn=64512, router_id=IPv4Address('{SPEAKER4}'), netns='{bgp_lan.speaker}'))\n"
        "t = threading.Thread(target=s.start); t.start(); t.join()\n"
        "time.sleep(0.5); assert s.running\n"
        "print(s.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    controller = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert controller.stdout is not None
        line = controller.stdout.readline()
        assert line, "the controller did not start its speaker"
        gobgpd = int(line)
        assert _alive(gobgpd)
        controller.kill()
        controller.wait()
        wait_for(lambda: not _alive(gobgpd), 5, f"gobgpd {gobgpd} to die with its controller")
    finally:
        controller.kill()
        controller.wait()
    speakers.start()  # listens on 179 in the same namespace: no orphan holds it


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_table_of_many_batches_arrives_whole(routers: Routers, speakers: Speakers) -> None:
    """4,096 routes over 200 next hops, streamed 1,000 paths a message: the speaker lists them all back and BIRD
    imports every one."""
    r = routers.start("bird")
    speaker = Speaker(speakers.config(), batch=1000)
    speakers.started.append(speaker)
    speaker.start()
    hops = [IPv4Address(f"192.0.2.{11 + i % 200}") for i in range(4096)]
    table = [Route(IPv4Network((0x0A000000 + (i << 8), 24)), hop) for i, hop in enumerate(hops)]
    assert speaker.add(table) == {}
    assert sorted(speaker.paths()) == sorted(table)
    speaker.set_peers([peer(1)])
    wait_for(lambda: [s.prefixes_received for s in r.sessions()] == [4096], ESTABLISH, "BIRD to import 4,096")
    assert speaker.peers()[0].prefixes_sent == 4096


def test_first_update_within_5s_of_established_while_another_peer_is_down(routers: Routers, speakers: Speakers) -> None:
    """A (re)started speaker holds UPDATEs back until every peer sent End-of-RIB (RFC 4724 selection deferral);
    with a peer that never comes up, GoBGP's default would be 6 minutes. Ours is a few seconds."""
    r = routers.start("bird")  # router 2 is configured as a peer but never runs
    speaker = speakers.start()
    speaker.add(ROUTES)
    established: list[float] = []
    speaker.watch_peers(lambda address, state: established.append(time.monotonic()) if state == "established" else None)
    speaker.set_peers([peer(1), peer(2)])
    wait_for(lambda: established, ESTABLISH, "the session with router 1")
    took = wait_for(lambda: kernel(r) == as_table(ROUTES), 10, "the routes at router 1", step=0.05)
    assert time.monotonic() - established[0] <= 5.0, f"routes arrived {took:.1f}s after Established"


class Announcer(GoBgp):
    """A router that announces routes of its own to hubnet's speaker (gobgpd from a TOML file, its own id)."""

    def toml(self) -> str:
        return super().toml().replace(f'router-id = "{SPEAKER4}"', f'router-id = "{router4(1)}"')


def test_routes_a_peer_announces_are_never_taken_nor_passed_on(
    bgp_lan: Lan, routers: Routers, speakers: Speakers, tmp_path: Path
) -> None:
    """The speaker announces hubnet's routes and nothing else: what a router sends it is refused at the door, so
    the controller never becomes a transit hop between two eBGP routers (nor holds their tables)."""
    other = Announcer(bgp_lan.routers[0], tmp_path / "announcer", [GoBgpPeer(SPEAKER4, ASN)], asn=65001)
    other.start()
    try:
        other.add("198.18.0.0/24", "192.0.2.99")
        r = routers.start("bird", i=2, asn=65002)
        speaker = speakers.start()
        speaker.add(ROUTES[:2])
        speaker.set_peers([peer(1, asn=65001), peer(2, asn=65002)])
        wait_for(lambda: kernel(r) == as_table(ROUTES[:2]), ESTABLISH, "our routes (only) at the eBGP router")
        wait_for(lambda: all(p.state == "established" for p in speaker.peers()), ESTABLISH, "both sessions")
        time.sleep(2)  # time enough for a transit route to travel
        assert kernel(r) == as_table(ROUTES[:2])
        assert [s.prefixes_received for s in r.sessions()] == [2]
        assert {p.address: p.prefixes_accepted for p in speaker.peers()} == {str(router4(1)): 0, str(router4(2)): 0}
    finally:
        other.kill()
