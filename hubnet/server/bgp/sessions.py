"""BGP peers as GoBGP configures them, and their sessions as `GET /v1/bgp/peers` shows them.

Every peer gets both families (IPv4 and IPv6 unicast: IPv6 routes travel with IPv6 next hops in MP_REACH, over an
IPv4 or an IPv6 session), graceful restart with the notification bit (RFC 4724 + RFC 8538: a peer keeps our routes
when the speaker dies or restarts), the TCP MD5 password and the eBGP multihop TTL when the spec has them. Routes
a peer sends are refused (ONLY_OURS).

`last_error` is built from what can be observed, nothing more: the reason GoBGP logged when the session last went
down or a NOTIFICATION was exchanged, and — because a wrong or missing TCP MD5 key shows no BGP error at all (the
kernel silently drops the unsigned or badly signed SYNs, the session just never leaves connect/active) — the
kernel's MD5 drop counters of the speaker's namespace together with "a password is set and no OPEN ever arrived".
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from google.protobuf.any_pb2 import Any
from google.protobuf.message import Message

from hubnet.server.bgp.gobgpapi import capability_pb2 as caps
from hubnet.server.bgp.gobgpapi import gobgp_pb2 as api
from hubnet.server.bgp.paths import FAMILIES, FAMILY_NAMES
from hubnet.server.bgp.peers import PeerSpec

CONNECT_RETRY = 5  # seconds between connection attempts (GoBGP's minimum; its default is 120)
# After a speaker (re)start, how long GoBGP may hold back our table from an Established peer while it waits for the
# End-of-RIB of every other peer (RFC 4724's selection deferral; GoBGP's default is 360 s). The table we announce
# is complete before any peer is added, so there is nothing to wait for: short, so the first UPDATE leaves within 5 s.
DEFERRAL_SECONDS = 3

# Take no route from any peer: the speaker announces hubnet's routes and nothing else. Without it, a route one eBGP
# router sends would be passed on to the others with the controller as next hop (transit through the controller),
# and a router sending a full table would fill gobgpd. The global import policy sees our own paths too (AddPath):
# those are "local" and accepted; everything a peer sends is refused (counted received, not accepted).
ONLY_OURS = api.Policy(
    name="hubnet-only-our-routes",
    statements=[
        api.Statement(
            name="hubnet-accept-local",
            conditions=api.Conditions(route_type=api.Conditions.ROUTE_TYPE_LOCAL),
            actions=api.Actions(route_action=api.ACCEPT),
        )
    ],
)
IMPORT_ONLY_OURS = api.PolicyAssignment(
    name="global", direction=api.IMPORT, policies=[api.Policy(name=ONLY_OURS.name)], default_action=api.REJECT
)

_STATES = {v: k.lower() for k, v in api.PeerState.SessionState.items()}  # IDLE → "idle", ...
_MD5_COUNTERS = ("TCPMD5NotFound", "TCPMD5Unexpected", "TCPMD5Failure")

# RFC 4271 §4.5 error codes, with the subcodes a misconfiguration produces (RFC 4271 §6.2, RFC 4486, RFC 8538).
_CODES = {
    1: "message header error",
    2: "OPEN message error",
    3: "UPDATE message error",
    4: "hold timer expired",
    5: "finite state machine error",
    6: "cease",
    7: "ROUTE-REFRESH message error",
}
_SUBCODES = {
    (2, 1): "unsupported version number",
    (2, 2): "bad peer AS (check the ASN configured on both sides)",
    (2, 3): "bad BGP identifier (router id)",
    (2, 4): "unsupported optional parameter",
    (2, 6): "unacceptable hold time",
    (2, 7): "unsupported capability",
    (6, 1): "maximum number of prefixes reached",
    (6, 2): "administrative shutdown",
    (6, 3): "peer de-configured",
    (6, 4): "administrative reset",
    (6, 5): "connection rejected",
    (6, 6): "other configuration change",
    (6, 7): "connection collision resolution",
    (6, 8): "out of resources",
    (6, 9): "hard reset",
}


@dataclass(frozen=True)
class PeerStatus:
    """One session as the speaker sees it now (the live part of `hubnet.wire.BgpPeer`)."""

    address: str
    state: str  # idle, connect, active, opensent, openconfirm, established (GoBGP's FSM state, lower case)
    uptime_seconds: float | None  # since the session reached Established; None while it is not
    prefixes_sent: int
    prefixes_accepted: int
    last_error: str | None
    families: list[str] = field(default_factory=list)  # negotiated, e.g. ["ipv4-unicast", "ipv6-unicast"]
    graceful_restart: bool = False  # negotiated: the peer keeps our routes while we restart
    # Established and sending: GoBGP holds back UPDATEs from a peer of a restarted speaker until End-of-RIB or the
    # deferral timer (see DEFERRAL_SECONDS); routes are delivered to a session only once it is both.
    delivering: bool = False


def peer_message(spec: PeerSpec, *, gr_seconds: int, restarting: bool) -> api.Peer:
    """GoBGP's peer configuration for `spec`. `restarting` sets the Restart State and Forwarding State bits (RFC
    4724): a peer that still holds our routes from before a restart keeps them until our End-of-RIB, then drops
    only the ones we did not announce again. True for the peers added right after the speaker (re)started."""
    families = [
        api.AfiSafi(
            config=api.AfiSafiConfig(family=family, enabled=True),
            mp_graceful_restart=api.MpGracefulRestart(config=api.MpGracefulRestartConfig(enabled=True)),
        )
        for family in FAMILIES.values()
    ]
    peer = api.Peer(
        conf=api.PeerConf(neighbor_address=str(spec.address), peer_asn=spec.asn, auth_password=spec.password or ""),
        graceful_restart=api.GracefulRestart(
            enabled=True,
            restart_time=gr_seconds,
            notification_enabled=True,
            deferral_time=DEFERRAL_SECONDS,
            local_restarting=restarting,
        ),
        timers=api.Timers(config=api.TimersConfig(connect_retry=CONNECT_RETRY)),
        afi_safis=families,
    )
    if spec.multihop is not None:
        peer.ebgp_multihop.CopyFrom(api.EbgpMultihop(enabled=True, multihop_ttl=spec.multihop))
    return peer


def status_of(peer: api.Peer, *, logged: str | None, md5_drops: int, now: float | None = None) -> PeerStatus:
    """The session facts of a ListPeer answer; `logged` is the last reason GoBGP logged for this peer, `md5_drops`
    the MD5 drop counters of the speaker's namespace."""
    state = _STATES.get(peer.state.session_state, "unknown")
    established = state == "established"
    uptime = None
    if established and peer.timers.state.HasField("uptime"):
        uptime = max(0.0, (now if now is not None else time.time()) - peer.timers.state.uptime.seconds)
    counters = [a.state for a in peer.afi_safis if a.HasField("state")]
    graceful = established and _has_cap(peer.state.remote_cap, caps.GracefulRestartCapability)
    # GoBGP's "advertised" is what it would send the peer now (its Adj-RIB-Out), End-of-RIB marker included when
    # graceful restart was negotiated: one per family, not a prefix.
    sent = sum(max(0, c.advertised - graceful) for c in counters) if established else 0
    return PeerStatus(
        address=peer.conf.neighbor_address or peer.state.neighbor_address,
        state=state,
        uptime_seconds=uptime,
        prefixes_sent=sent,
        # The speaker's import policy (speaker.ONLY_OURS) refuses every route a peer sends, after GoBGP counted it
        # as "accepted" into the peer's Adj-RIB-In: none of them is ever taken.
        prefixes_accepted=0,
        last_error=None if established else last_error(peer, state, logged=logged, md5_drops=md5_drops),
        families=negotiated_families(peer) if established else [],
        graceful_restart=graceful,
        delivering=established and not peer.graceful_restart.local_restarting,
    )


def last_error(peer: api.Peer, state: str, *, logged: str | None, md5_drops: int) -> str | None:
    """Why a session that is not Established is not: what GoBGP logged, else what the counters suggest."""
    if logged:
        return logged
    if state not in ("idle", "connect", "active") or peer.state.messages.received.open:
        return None  # an OPEN came in: the TCP session works; a BGP error would have been logged
    if peer.conf.auth_password:
        seen = (
            f"; the kernel dropped {md5_drops} TCP segments with a missing or wrong MD5 signature" if md5_drops else ""
        )
        return f"no TCP session: check that the TCP MD5 password is the same on both sides (or is the peer down?){seen}"
    if md5_drops:
        return f"no TCP session: the kernel dropped {md5_drops} MD5-signed TCP segments, does the peer set a password?"
    return "no TCP session yet: is the peer reachable and configured with this speaker as its neighbor?"


def notification_text(code: int, subcode: int) -> str:
    """A NOTIFICATION's error as words: 'OPEN message error: bad peer AS (...)'."""
    what = _CODES.get(code, f"error code {code}")
    sub = _SUBCODES.get((code, subcode))
    return f"{what}: {sub}" if sub else (what if not subcode else f"{what} (subcode {subcode})")


def negotiated_families(peer: api.Peer) -> list[str]:
    """The families both sides announced (the peer's multiprotocol capabilities among the ones we configure)."""
    remote = {(c.family.afi, c.family.safi) for c in _caps(peer.state.remote_cap, caps.MultiProtocolCapability)}
    return [name for key, name in FAMILY_NAMES.items() if key in remote]


def md5_drops(netstat: str) -> int:
    """The sum of the kernel's TCP MD5 drop counters in /proc/PID/net/netstat (that process's namespace)."""
    lines = [line.split() for line in netstat.splitlines() if line.startswith("TcpExt:")]
    if len(lines) < 2:
        return 0
    values = dict(zip(lines[0][1:], lines[1][1:], strict=False))
    return sum(int(values.get(name, 0)) for name in _MD5_COUNTERS)


M = TypeVar("M", bound=Message)


def _caps(items: Iterable[Any], kind: type[M]) -> list[M]:
    out = []
    for item in items:
        if item.Is(kind.DESCRIPTOR):
            value = kind()
            item.Unpack(value)
            out.append(value)
    return out


def _has_cap(items: Iterable[Any], kind: type[Message]) -> bool:
    return any(item.Is(kind.DESCRIPTOR) for item in items)
