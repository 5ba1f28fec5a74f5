"""The lab's BGP routers (BIRD 2 and FRR in a namespace) against a real speaker (gobgpd): they learn the node routes
over BGP only and install them into their namespace's kernel table with the announced (third-party) next hop, over
IPv4 and IPv6, keep them through a speaker's crash (graceful restart), and refuse a wrong MD5 key."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from hubnet.lab.bgprouter import BgpRouter, Neighbor, make_router
from hubnet.lab.routers.frr import FRR_RUN_DIR
from hubnet.linux import labnet
from tests.support.bgp import (
    PROGRAMS,
    SPEAKER4,
    SPEAKER6,
    GoBgp,
    Lan,
    Peer,
    kernel_routes,
    lan,
    node4,
    node6,
    router4,
    router6,
    wait_for,
)
from tests.support.prereq import need, need_programs, need_root_netns

pytestmark = pytest.mark.netns

ASN = 64512
PROTO = {"bird": "bird", "frr": "bgp"}  # the kernel route protocol each router installs with
KINDS = [pytest.param("bird", id="bird"), pytest.param("frr", id="frr")]
ESTABLISH = 20.0  # seconds: a fresh session on an idle machine takes ~1 s; leave room for a busy one


@pytest.fixture
def net() -> Iterator[Lan]:
    need_root_netns()
    need_programs(*PROGRAMS)
    with lan(routers=2) as built:
        yield built


def router(kind: str, net: Lan, tmp: Path, neighbors: list[Neighbor], i: int = 1, asn: int = ASN) -> BgpRouter:
    return make_router(kind, net.routers[i - 1], asn, router4(i), neighbors, tmp / f"{kind}-r{i}")


@pytest.fixture
def started() -> Iterator[list[BgpRouter]]:
    """Routers a test started; stopped afterwards even when it failed (the LAN fixture also kills by namespace)."""
    routers: list[BgpRouter] = []
    yield routers
    for r in routers:
        r.stop()


def established(r: BgpRouter, neighbor: str, prefixes: int | None = None) -> bool:
    for s in r.sessions():
        if s.neighbor == neighbor and s.state == "established":
            return prefixes is None or s.prefixes_received == prefixes
    return False


def table(r: BgpRouter, kind: str) -> dict[str, str]:
    return {**kernel_routes(r.netns, 4, PROTO[kind]), **kernel_routes(r.netns, 6, PROTO[kind])}


ROUTES = {
    "10.244.1.0/24": node4(1),
    "10.244.2.0/24": node4(2),
    "fd00:10:244:1::/64": node6(1),
    "fd00:10:244:2::/64": node6(2),
}


def announce(speaker: GoBgp, routes: dict[str, str]) -> None:
    for prefix, hop in routes.items():
        speaker.add(prefix, hop)


def router_with_routes(
    kind: str, net: Lan, tmp: Path, started: list[BgpRouter], family: int = 4
) -> tuple[BgpRouter, GoBgp]:
    """Router 1 of `kind` with a gobgpd CLI speaker as its neighbour over an IPv4 (or IPv6) session, ROUTES
    announced and in its kernel table."""
    mine, theirs = (SPEAKER4, router4()) if family == 4 else (SPEAKER6, router6())
    r = router(kind, net, tmp, [Neighbor(mine, ASN)])
    started.append(r)
    r.start()
    speaker = GoBgp(net.speaker, tmp / "gobgp", [Peer(theirs, ASN)])
    speaker.start()
    announce(speaker, ROUTES)
    wait_for(lambda: table(r, kind) == ROUTES, ESTABLISH, f"{kind} kernel table == {ROUTES}")
    return r, speaker


@pytest.mark.parametrize("kind", KINDS)
def test_routes_learned_over_an_ipv4_session_land_in_the_kernel_via_the_node(
    kind: str, net: Lan, tmp_path: Path, started: list[BgpRouter]
) -> None:
    r, speaker = router_with_routes(kind, net, tmp_path, started)
    assert established(r, str(SPEAKER4), prefixes=4)

    speaker.delete("10.244.2.0/24")  # withdrawn
    speaker.add("10.244.1.0/24", node4(7))  # the node's address changed: replaced
    speaker.add("fd00:10:244:1::/64", node6(7))
    want = {"10.244.1.0/24": node4(7), "fd00:10:244:1::/64": node6(7), "fd00:10:244:2::/64": node6(2)}
    wait_for(lambda: table(r, kind) == want, 10, f"{kind} kernel table == {want}")


@pytest.mark.parametrize("kind", KINDS)
def test_both_families_over_an_ipv6_session(kind: str, net: Lan, tmp_path: Path, started: list[BgpRouter]) -> None:
    r, _ = router_with_routes(kind, net, tmp_path, started, family=6)
    assert established(r, str(SPEAKER6), prefixes=4)


@pytest.mark.parametrize("kind", KINDS)
def test_a_killed_speaker_leaves_its_routes_until_it_is_back(
    kind: str, net: Lan, tmp_path: Path, started: list[BgpRouter]
) -> None:
    r, speaker = router_with_routes(kind, net, tmp_path, started)

    speaker.kill()  # kill -9: no NOTIFICATION; the router keeps the routes (stale) for the restart time
    wait_for(lambda: not established(r, str(SPEAKER4)), 10, "the session to go down")
    for _ in range(20):  # 2 s down: every route stays
        assert table(r, kind) == ROUTES
        time.sleep(0.1)
    speaker.start()
    announce(speaker, {"10.244.1.0/24": node4(1), "fd00:10:244:1::/64": node6(1)})
    want = {"10.244.1.0/24": node4(1), "fd00:10:244:1::/64": node6(1)}
    # After the restart the speaker's End-of-RIB sweeps what it no longer announces.
    wait_for(lambda: table(r, kind) == want, ESTABLISH, f"{kind} kernel table == {want}")
    assert established(r, str(SPEAKER4), prefixes=2)


@pytest.mark.parametrize("kind", KINDS)
def test_md5_right_key_establishes_wrong_key_never(
    kind: str, net: Lan, tmp_path: Path, started: list[BgpRouter]
) -> None:
    right = router(kind, net, tmp_path, [Neighbor(SPEAKER4, ASN, password="s3cret-key")], i=1)
    wrong = router(kind, net, tmp_path, [Neighbor(SPEAKER4, ASN, password="other-key")], i=2)
    started += [right, wrong]
    right.start()
    wrong.start()
    peers = [Peer(router4(1), ASN, password="s3cret-key"), Peer(router4(2), ASN, password="s3cret-key")]
    speaker = GoBgp(net.speaker, tmp_path / "gobgp", peers)
    speaker.start()
    announce(speaker, ROUTES)
    wait_for(lambda: table(right, kind) == ROUTES, ESTABLISH, "routes over the session with the right key")
    for _ in range(30):  # 3 s more, with the right-key session long up
        assert not established(wrong, str(SPEAKER4))
        assert table(wrong, kind) == {}
        time.sleep(0.1)
    assert [s.state for s in wrong.sessions()] != ["established"]


@pytest.mark.parametrize("kind", KINDS)
def test_ebgp_multihop_keeps_the_third_party_next_hop(
    kind: str, net: Lan, tmp_path: Path, started: list[BgpRouter]
) -> None:
    r = router(kind, net, tmp_path, [Neighbor(SPEAKER4, ASN, multihop=2)], asn=64513)
    started.append(r)
    r.start()
    speaker = GoBgp(net.speaker, tmp_path / "gobgp", [Peer(router4(), 64513, multihop=2)])
    speaker.start()
    announce(speaker, ROUTES)
    wait_for(lambda: table(r, kind) == ROUTES, ESTABLISH, f"{kind} kernel table == {ROUTES} over eBGP")


@pytest.mark.parametrize("kind", KINDS)
def test_configure_adds_and_removes_neighbours_two_routers_at_once(
    kind: str, net: Lan, tmp_path: Path, started: list[BgpRouter]
) -> None:
    first, second = router(kind, net, tmp_path, [], i=1), router(kind, net, tmp_path, [], i=2)
    started += [first, second]
    first.start()
    second.start()
    speaker = GoBgp(net.speaker, tmp_path / "gobgp", [Peer(router4(1), ASN), Peer(router4(2), ASN)])
    speaker.start()
    announce(speaker, ROUTES)
    for r in (first, second):
        assert r.sessions() == []
        r.configure([Neighbor(SPEAKER4, ASN)])
    for r in (first, second):
        wait_for(lambda r=r: table(r, kind) == ROUTES, ESTABLISH, f"{r.netns} kernel table")  # type: ignore[misc]

    second.configure([])  # the neighbour is gone: its session and its routes too; the other router is untouched
    wait_for(lambda: table(second, kind) == {}, 10, "routes gone with the neighbour")
    assert second.sessions() == []
    assert table(first, kind) == ROUTES and established(first, str(SPEAKER4), prefixes=4)


@pytest.mark.parametrize("kind", KINDS)
def test_router_restart_and_crash_get_the_table_back(
    kind: str, net: Lan, tmp_path: Path, started: list[BgpRouter]
) -> None:
    r, _ = router_with_routes(kind, net, tmp_path, started)  # the speaker stays up: it re-sends on reconnect

    r.restart()
    wait_for(lambda: table(r, kind) == ROUTES and established(r, str(SPEAKER4), 4), ESTABLISH, "routes after restart")
    r.kill()  # stale sockets and pid files are left behind; a new start must not mind them
    r.start()
    wait_for(lambda: table(r, kind) == ROUTES and established(r, str(SPEAKER4), 4), ESTABLISH, "routes after crash")
    assert r.pids and all(isinstance(p, int) for p in r.pids.values())


def test_unknown_router_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="unknown router kind"):
        make_router("quagga", "hbgp-none", ASN, IPv4Address("192.0.2.1"), [], tmp_path)


@pytest.mark.parametrize("kind", KINDS)
def test_a_lab_with_a_bgp_router_passes_the_check_over_both_families(kind: str) -> None:
    """`hubnet lab up --router bird|frr`: the router learns every node route over BGP from the controller (its own
    namespace), `lab check` passes unchanged for IPv4 and IPv6, `status` shows the session; `down` leaves nothing."""
    from hubnet.lab import lifecycle
    from hubnet.lab.check import run_check
    from hubnet.lab.status import status
    from hubnet.server.routing.backends import BACKENDS

    need_root_netns()
    need_programs(*PROGRAMS)
    need("bgp" in BACKENDS, "the bgp route backend is not in this build (hubnet/server/routing/backends.py)")
    name = f"t{kind}{secrets.token_hex(2)}"
    try:
        state = lifecycle.up(name, 2, 1, router=kind)
        report = run_check(state)
        assert report.ok, [p for p in report.pairs if not p.ok] + [r for r in report.reach if not r.ok]
        assert {p.family for p in report.pairs} == {4, 6}
        bgp = status(state)["bgp"]
        assert bgp["router"] == kind and bgp["controller_netns"] == f"hnlab-{name}-ctl"
        assert bgp["sessions"] == [{"neighbor": "192.168.1.2", "state": "established", "prefixes_received": 4}]
    finally:
        gone = lifecycle.down(name)
    assert f"hnlab-{name}-ctl" in gone.namespaces and not labnet.list_netns(f"hnlab-{name}-")
    assert not (FRR_RUN_DIR / f"hubnet-hnlab-{name}-router").exists()
