"""BGP peer use cases over the in-memory database: add / list / show / delete, the `bgp_peers` commit kind, the live
status port (absent, present, failing), the specs the speaker gets, and the password kept out of everything shown."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address

import pytest

from hubnet.server.bgp.peers import PeerRecord, PeerSpec
from hubnet.server.db.memory import MemoryDatabase
from hubnet.server.domain.errors import Forbidden, HubnetError, InvalidInput, NotFound, PeerExists, Unauthenticated
from hubnet.server.services import bgp, nodes
from hubnet.server.services.bgp import PeerStatusSource
from hubnet.server.services.context import Controller
from hubnet.server.services.ports import Commit
from tests.unit.server.fakes import ADMIN, BOOT, Clock, events, memory_controller

SECRET = "md5-Key with spaces!"


@dataclass(frozen=True)
class Status:
    """What the speaker reports for one session (the shape of helper A's PeerStatus)."""

    address: str
    state: str = "established"
    uptime_seconds: float | None = 12.5
    prefixes_sent: int = 50
    prefixes_accepted: int = 0
    last_error: str | None = None
    families: tuple[str, ...] = ("ipv4-unicast", "ipv6-unicast")
    graceful_restart: bool = True


@dataclass
class FakeSpeaker:
    statuses: list[Status] = field(default_factory=list)
    broken: bool = False

    def peers(self) -> list[Status]:
        if self.broken:
            raise ConnectionError("gobgpd restarting")
        return self.statuses


def _source(speaker: FakeSpeaker) -> PeerStatusSource:
    return speaker  # checked by mypy: the fake satisfies the port


@pytest.fixture
def ctl() -> Iterator[Controller]:
    with memory_controller(Clock()) as controller:
        yield controller


@pytest.fixture
def commits(ctl: Controller) -> list[Commit]:
    seen: list[Commit] = []
    ctl.db.after_commit.append(seen.append)
    return seen


def _state(ctl: Controller) -> tuple[dict[str, PeerRecord], int]:
    assert isinstance(ctl.db, MemoryDatabase)
    return dict(ctl.db.state.bgp_peers), len(ctl.db.state.events)


def test_add_show_list_delete(ctl: Controller, commits: list[Commit]) -> None:
    body = {"address": "FD00:1::0001", "asn": 65001, "password": SECRET, "multihop": 2, "description": "tor-1"}
    added = bgp.add_peer(ctl, token=ADMIN, body=body)
    assert (added.address, added.asn, added.multihop, added.description) == ("fd00:1::1", 65001, 2, "tor-1")
    assert added.password_set and added.state == "unknown" and added.last_error == bgp.NOT_ENABLED
    assert (added.prefixes_sent, added.prefixes_accepted, added.uptime_seconds) == (0, 0, None)
    bgp.add_peer(ctl, token=ADMIN, body={"address": "192.168.1.1", "asn": 64512})

    assert bgp.get_peer(ctl, token=ADMIN, address="fd00:1:0::1") == added
    assert [p.address for p in bgp.list_peers(ctl, token=ADMIN)] == ["fd00:1::1", "192.168.1.1"]
    assert [c.kinds for c in commits] == [frozenset({"bgp_peers"})] * 2 and bgp.changes_peers(commits[0].kinds)

    bgp.delete_peer(ctl, token=ADMIN, address="FD00:1::1")
    assert [p.address for p in bgp.list_peers(ctl, token=ADMIN)] == ["192.168.1.1"]
    assert len(commits) == 3 and bgp.changes_peers(commits[-1].kinds)
    with pytest.raises(NotFound) as err:
        bgp.get_peer(ctl, token=ADMIN, address="fd00:1::1")
    assert err.value.field == "address"
    with pytest.raises(NotFound) as err:
        bgp.delete_peer(ctl, token=ADMIN, address="fd00:1::1")
    assert err.value.field == "address"
    changes = [(kind, data["change"], data["address"]) for kind, _, data in events(ctl) if kind == "bgp_peers"]
    assert changes == [
        ("bgp_peers", "added", "fd00:1::1"),
        ("bgp_peers", "added", "192.168.1.1"),
        ("bgp_peers", "deleted", "fd00:1::1"),
    ]
    assert SECRET not in json.dumps(events(ctl))


@pytest.mark.parametrize(
    ("body", "error", "field"),
    [
        ({"address": "127.0.0.1", "asn": 65001}, InvalidInput, "address"),
        ({"address": "192.168.1.9", "asn": 0}, InvalidInput, "asn"),
        ({"address": "192.168.1.9", "asn": 65001, "password": "x" * 81}, InvalidInput, "password"),
        ({"address": "192.168.1.1", "asn": 65002}, PeerExists, "address"),
        ({"address": "192.168.001.1", "asn": 65002}, InvalidInput, "address"),
    ],
    ids=["loopback", "asn-zero", "password-too-long", "duplicate", "leading-zeros"],
)
def test_refused_adds_write_nothing(
    ctl: Controller, commits: list[Commit], body: dict[str, object], error: type[HubnetError], field: str
) -> None:
    bgp.add_peer(ctl, token=ADMIN, body={"address": "192.168.1.1", "asn": 65001})
    before, seen = _state(ctl), len(commits)
    with pytest.raises(error) as err:
        bgp.add_peer(ctl, token=ADMIN, body=body)
    assert err.value.field == field
    assert _state(ctl) == before and len(commits) == seen


def test_only_admins(ctl: Controller) -> None:
    secret = "n" * 48
    nodes.register(ctl, token=BOOT, name="node-a", address="192.168.7.10", secret=secret, machine_id=None)
    bgp.add_peer(ctl, token=ADMIN, body={"address": "192.168.1.1", "asn": 65001})
    before = _state(ctl)
    calls = (
        lambda token: bgp.add_peer(ctl, token=token, body={"address": "192.168.1.2", "asn": 65001}),
        lambda token: bgp.list_peers(ctl, token=token),
        lambda token: bgp.get_peer(ctl, token=token, address="192.168.1.1"),
        lambda token: bgp.delete_peer(ctl, token=token, address="192.168.1.1"),
    )
    for call in calls:
        for token, error in (
            (BOOT, Forbidden),
            (secret, Forbidden),
            (None, Unauthenticated),
            ("guess", Unauthenticated),
        ):
            with pytest.raises(error):
                call(token)
    assert _state(ctl) == before


def test_live_status_from_the_speaker(ctl: Controller) -> None:
    for address in ("192.168.1.1", "fd00::2", "192.168.1.3"):
        bgp.add_peer(ctl, token=ADMIN, body={"address": address, "asn": 65001})
    speaker = FakeSpeaker(
        [
            Status("192.168.1.1"),
            Status("FD00:0::2", state="active", uptime_seconds=None, prefixes_sent=0, last_error="no TCP session"),
            Status("192.168.9.9"),  # a peer deleted from the database that the speaker still has: not listed
        ]
    )
    ctl.bgp_status = _source(speaker)
    one, two, three = bgp.list_peers(ctl, token=ADMIN)
    assert (one.state, one.uptime_seconds, one.prefixes_sent, one.last_error) == ("established", 12.5, 50, None)
    assert one.families == ["ipv4-unicast", "ipv6-unicast"] and one.graceful_restart
    assert (two.address, two.state, two.last_error, two.graceful_restart) == (
        "fd00::2",
        "active",
        "no TCP session",
        True,
    )
    assert (three.state, three.last_error, three.prefixes_sent) == ("unknown", bgp.NOT_CONFIGURED, 0)
    assert bgp.get_peer(ctl, token=ADMIN, address="192.168.1.1") == one

    speaker.broken = True  # a speaker that does not answer: listed as unknown, with why; never a 500
    states = {(p.state, p.last_error) for p in bgp.list_peers(ctl, token=ADMIN)}
    assert states == {("unknown", "the BGP speaker did not answer: gobgpd restarting")}


def test_peer_specs_carry_the_password_for_the_speaker(ctl: Controller, caplog: pytest.LogCaptureFixture) -> None:
    bgp.add_peer(ctl, token=ADMIN, body={"address": "192.168.1.1", "asn": 65001, "password": SECRET, "multihop": 3})
    bgp.add_peer(ctl, token=ADMIN, body={"address": "fe80::1%eth1", "asn": 65002, "description": "link"})
    assert isinstance(ctl.db, MemoryDatabase)  # a row edited by hand is left out, and said so
    ctl.db.state.bgp_peers["garbage"] = PeerRecord("garbage", 65003, None, None, "", 0.0)
    with caplog.at_level(logging.WARNING, logger="hubnet.server"):
        specs = bgp.peer_specs(ctl)
    assert specs == [
        PeerSpec(IPv4Address("192.168.1.1"), 65001, SECRET, 3),
        PeerSpec(IPv6Address("fe80::1%eth1"), 65002, None, None, "link"),
    ]
    assert "'garbage' is not an IP address" in caplog.text


def test_the_password_is_never_shown(ctl: Controller, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ctl.bgp_status = _source(FakeSpeaker([Status("192.168.1.1")]))
    shown = [bgp.add_peer(ctl, token=ADMIN, body={"address": "192.168.1.1", "asn": 65001, "password": SECRET})]
    shown += bgp.list_peers(ctl, token=ADMIN)
    shown.append(bgp.get_peer(ctl, token=ADMIN, address="192.168.1.1"))
    for refused in (
        {"address": "192.168.1.1", "asn": 65001, "password": SECRET},
        {"address": "192.168.1.2", "asn": 1, "pw": SECRET},
    ):
        with pytest.raises(HubnetError) as err:
            bgp.add_peer(ctl, token=ADMIN, body=refused)
        assert SECRET not in err.value.detail
    bgp.delete_peer(ctl, token=ADMIN, address="192.168.1.1")
    assert all(p.password_set for p in shown)
    assert SECRET not in json.dumps([p.to_json() for p in shown]) + repr(shown)
    assert SECRET not in caplog.text + json.dumps(events(ctl))
    assert "BGP peer 192.168.1.1 (AS 65001) added" in caplog.text
