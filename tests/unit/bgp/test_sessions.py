"""Peers as GoBGP is told them, and sessions as `GET /v1/bgp/peers` shows them (from GoBGP's answers)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest
from google.protobuf.any_pb2 import Any

from hubnet.server.bgp.gobgpapi import capability_pb2 as caps
from hubnet.server.bgp.gobgpapi import gobgp_pb2 as api
from hubnet.server.bgp.gobgplog import peer_reason
from hubnet.server.bgp.paths import V4, V6
from hubnet.server.bgp.peers import PeerSpec
from hubnet.server.bgp.sessions import md5_drops, notification_text, peer_message, status_of

S = api.PeerState.SessionState


def test_peer_message_has_both_families_graceful_restart_and_notification() -> None:
    peer = peer_message(PeerSpec(IPv4Address("192.0.2.1"), 64512), gr_seconds=120, restarting=False)
    assert peer.conf.neighbor_address == "192.0.2.1" and peer.conf.peer_asn == 64512
    assert [(a.config.family.afi, a.config.enabled) for a in peer.afi_safis] == [(V4.afi, True), (V6.afi, True)]
    assert all(a.mp_graceful_restart.config.enabled for a in peer.afi_safis)
    gr = peer.graceful_restart
    assert gr.enabled and gr.notification_enabled and gr.restart_time == 120 and not gr.local_restarting
    assert 0 < gr.deferral_time <= 5  # the first UPDATE must leave within 5 s of Established
    assert not peer.conf.auth_password and not peer.HasField("ebgp_multihop")


def test_peer_message_password_multihop_and_restart_bits() -> None:
    spec = PeerSpec(IPv6Address("2001:db8::1"), 65001, password="s3cret", multihop=4)
    peer = peer_message(spec, gr_seconds=300, restarting=True)
    assert peer.conf.auth_password == "s3cret"
    assert peer.ebgp_multihop.enabled and peer.ebgp_multihop.multihop_ttl == 4
    assert peer.graceful_restart.local_restarting and peer.graceful_restart.restart_time == 300


def answer(
    state: int, *, password: str = "", opens: int = 0, advertised: int = 0, restarting: bool = False
) -> api.Peer:
    remote = [_any(caps.MultiProtocolCapability(family=V4)), _any(caps.MultiProtocolCapability(family=V6))]
    remote.append(_any(caps.GracefulRestartCapability(time=120)))
    peer = api.Peer(
        conf=api.PeerConf(neighbor_address="192.0.2.1", auth_password=password),
        state=api.PeerState(session_state=state, remote_cap=remote if state == S.ESTABLISHED else []),
        afi_safis=[
            api.AfiSafi(state=api.AfiSafiState(family=f, advertised=advertised + 1, accepted=2)) for f in (V4, V6)
        ],
        graceful_restart=api.GracefulRestart(local_restarting=restarting),
    )
    peer.state.messages.received.open = opens
    peer.timers.state.uptime.seconds = 1000
    return peer


def test_established_session() -> None:
    status = status_of(answer(S.ESTABLISHED, advertised=10), logged="old reason", md5_drops=3, now=1030.0)
    assert status.state == "established" and status.uptime_seconds == 30.0
    # GoBGP counts one End-of-RIB per family among the advertised paths: not a prefix
    assert status.prefixes_sent == 20
    assert status.prefixes_accepted == 0  # our import policy refuses what GoBGP counts as accepted
    assert status.last_error is None
    assert status.families == ["ipv4-unicast", "ipv6-unicast"] and status.graceful_restart and status.delivering


def test_established_but_deferring_is_not_delivering() -> None:
    assert not status_of(answer(S.ESTABLISHED, restarting=True), logged=None, md5_drops=0).delivering


@pytest.mark.parametrize(
    ("state", "password", "opens", "drops", "logged", "expect"),
    [
        pytest.param(S.ACTIVE, "pw", 0, 7, None, "MD5 password is the same on both sides", id="md5-wrong-key"),
        pytest.param(S.CONNECT, "pw", 0, 0, None, "MD5 password", id="md5-no-drops-seen"),
        pytest.param(S.ACTIVE, "", 0, 5, None, "does the peer set a password", id="md5-only-peer"),
        pytest.param(S.ACTIVE, "", 0, 0, None, "is the peer reachable", id="nothing-answers"),
        pytest.param(S.ACTIVE, "pw", 1, 9, None, None, id="an-open-came-tcp-works"),
        pytest.param(S.IDLE, "pw", 0, 9, "the peer sent a NOTIFICATION: x", "NOTIFICATION", id="logged-wins"),
    ],
)
def test_last_error(state: int, password: str, opens: int, drops: int, logged: str | None, expect: str | None) -> None:
    status = status_of(answer(state, password=password, opens=opens), logged=logged, md5_drops=drops)
    assert status.state == api.PeerState.SessionState.Name(state).lower()
    assert status.uptime_seconds is None and status.prefixes_sent == 0 and status.families == []
    if expect is None:
        assert status.last_error is None
    else:
        assert status.last_error is not None and expect in status.last_error
    if drops and expect and "MD5" in expect:
        assert f"dropped {drops}" in (status.last_error or "")


def test_md5_drops_sums_the_kernel_counters() -> None:
    netstat = (
        "TcpExt: SyncookiesSent TCPMD5NotFound TCPMD5Unexpected TCPMD5Failure Other\n"
        "TcpExt: 1 2 3 4 100\n"
        "IpExt: InNoRoutes\nIpExt: 0\n"
    )
    assert md5_drops(netstat) == 9
    assert md5_drops("") == 0


@pytest.mark.parametrize(
    ("code", "subcode", "text"),
    [(2, 2, "OPEN message error: bad peer AS"), (4, 0, "hold timer expired"), (6, 2, "cease: administrative"),
     (9, 1, "error code 9 (subcode 1)")],
)  # fmt: skip
def test_notification_text(code: int, subcode: int, text: str) -> None:
    assert notification_text(code, subcode).startswith(text)


def test_peer_reasons_from_gobgpd_log_records() -> None:
    received = {"msg": "received notification", "Key": "192.0.2.1", "Code": 2, "Subcode": 2}
    assert "the peer sent a NOTIFICATION: OPEN message error: bad peer AS" in (
        peer_reason(received["msg"], received) or ""
    )
    sent = {"Data": {"TypeCode": 2, "SubTypeCode": 2, "Message": "as number mismatch"}}
    assert peer_reason("sent notification", sent) == (
        "we sent a NOTIFICATION: OPEN message error: bad peer AS (check the ASN configured on both sides) "
        "(as number mismatch)"
    )
    down = peer_reason("Peer Down", {"Reason": "hold-timer-expired"})
    assert down == "session went down: hold-timer-expired"
    assert peer_reason("Add a peer configuration", {}) is None


def _any(message: object) -> Any:
    packed = Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed
