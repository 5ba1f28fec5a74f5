"""The speaker's own contract, without routers: start and stop, failures that say why, the RIB in and out."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network, IPv6Address
from pathlib import Path

import pytest

from hubnet.server.bgp.speaker import Speaker, SpeakerConfig, SpeakerError
from hubnet.server.domain.routes import Route
from tests.netns.bgp.conftest import route4, route6
from tests.support.prereq import need_programs

pytestmark = pytest.mark.netns

QUIET = SpeakerConfig(asn=64512, router_id=IPv4Address("192.0.2.2"), listen_port=0)  # no BGP port: no root needed


@pytest.fixture
def speaker() -> Iterator[Speaker]:
    need_programs("gobgpd")
    made = Speaker(QUIET)
    try:
        yield made
    finally:
        made.stop()


def test_start_is_idempotent_and_stop_kills(speaker: Speaker) -> None:
    speaker.start()
    pid = speaker.pid
    speaker.start()
    assert speaker.pid == pid and speaker.running
    speaker.stop()
    assert not speaker.running and speaker.pid is None
    speaker.stop()  # idempotent
    speaker.start()
    assert speaker.running and speaker.pid != pid


def test_the_rib_in_and_out(speaker: Speaker) -> None:
    speaker.start()
    assert speaker.paths() == []
    routes = [route4(1), route4(2), route6(1)]
    assert speaker.add(routes) == {}
    assert speaker.add([route4(1, hop=9)]) == {}  # replaces: still one path for the prefix
    assert sorted(speaker.paths()) == sorted([route4(1, hop=9), route4(2), route6(1)])
    assert speaker.delete([route4(2), route4(200)]) == {}  # a prefix that is not there is fine
    assert sorted(speaker.paths()) == sorted([route4(1, hop=9), route6(1)])
    assert speaker.peers() == []


def test_a_route_mixing_families_fails_alone(speaker: Speaker) -> None:
    speaker.start()
    mixed = Route(IPv4Network("10.244.9.0/24"), IPv6Address("2001:db8:1::9"))
    assert speaker.add([mixed, route4(1)]) == {mixed.prefix: "prefix and next hop of different families"}
    assert speaker.paths() == [route4(1)]


def test_calls_on_a_stopped_speaker_say_so(speaker: Speaker) -> None:
    with pytest.raises(SpeakerError, match="not running"):
        speaker.paths()
    with pytest.raises(SpeakerError, match="not running"):
        speaker.add([route4(1)])
    assert not speaker.running


def test_a_missing_binary_and_a_dying_one_are_named() -> None:
    with pytest.raises(SpeakerError, match="gobgpd not found: 'no-such-gobgpd'"):
        Speaker(SpeakerConfig(asn=1, router_id=IPv4Address("192.0.2.2"), gobgpd="no-such-gobgpd")).start()
    dying = Speaker(SpeakerConfig(asn=1, router_id=IPv4Address("192.0.2.2"), gobgpd="false"))
    with pytest.raises(SpeakerError, match=r"gobgpd exited at start \(code 1\)"):
        dying.start()
    assert not dying.running


def test_the_api_can_be_a_loopback_port() -> None:
    need_programs("gobgpd")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    speaker = Speaker(SpeakerConfig(asn=64512, router_id=IPv4Address("192.0.2.2"), listen_port=0, api_port=port))
    try:
        speaker.start()
        assert speaker.add([route4(1)]) == {} and speaker.paths() == [route4(1)]
    finally:
        speaker.stop()


def test_a_dead_controllers_api_directory_is_swept(speaker: Speaker) -> None:
    """A controller killed with -9 cannot remove its gobgpd's socket directory; the next start does."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = Path(tempfile.gettempdir()) / f"hubnet-bgp-{dead.pid}-x1y2"
    stale.mkdir()
    (stale / "api.sock").touch()
    mine = Path(tempfile.gettempdir()) / f"hubnet-bgp-{os.getpid()}-keep"
    mine.mkdir()
    try:
        speaker.start()
        assert not stale.exists() and mine.exists()  # a live process's directory stays
    finally:
        shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(mine, ignore_errors=True)
