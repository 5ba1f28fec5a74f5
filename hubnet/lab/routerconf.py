"""What a BGP router (BIRD 2 or FRR) is told, as pure text: the configuration files, FRR's reconfiguration
commands, and the parsers for the daemons' session listings. No processes here (see `bgprouter`).

The router learns the node routes over BGP only, from hubnet's speaker, and installs them into its kernel table
with the next hop as announced (the node's address: a third-party next hop on the router's own LAN). It announces
nothing back. Graceful restart is on, so a speaker that restarts keeps its routes in the router for the restart
time it advertised (hubnet: 120 s). Both families on every session: IPv6 routes carry IPv6 next hops in
MP_REACH_NLRI, so they also travel over an IPv4 session (no extended next hop needed for that).
These files are the examples docs/bgp.md shows: keep them readable.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, ip_address
from typing import Any

from hubnet.net import Address

GR_RESTART_SECONDS = 120  # what the router advertises for its own restarts; a restarting speaker's routes are
# kept for the time *that speaker* advertises
CONNECT_RETRY_SECONDS = 5  # after a failed connection attempt (the speaker is restarting) try again this soon
KERNEL_SCAN_SECONDS = 5  # BIRD re-reads the kernel table this often (a route deleted behind its back comes back)
_PASSWORD = re.compile(r"^[!#-~]{1,80}$")  # printable ASCII without space and `"`: one word for FRR, one string
# for BIRD (neither escapes quotes)


@dataclass(frozen=True)
class Neighbor:
    """One BGP neighbour of the router (hubnet's speaker): iBGP when `asn` equals the router's ASN, eBGP
    otherwise. `multihop` None: directly connected; else the eBGP multihop TTL. `port`: where the neighbour
    listens. `password` (TCP MD5) is a secret: it never appears in repr."""

    address: Address
    asn: int
    password: str | None = None
    multihop: int | None = None
    port: int = 179

    def __post_init__(self) -> None:
        if self.password is not None and not _PASSWORD.match(self.password):
            raise ValueError("a router's MD5 password must be 1-80 printable ASCII characters without space or '\"'")

    def __repr__(self) -> str:
        secret = "***" if self.password else None
        return (
            f"Neighbor(address={self.address!s}, asn={self.asn}, password={secret}, multihop={self.multihop}, "
            f"port={self.port})"
        )


@dataclass(frozen=True)
class Session:
    """A router's view of one BGP session: the BGP FSM state in lower case (idle, connect, active, opensent,
    openconfirm, established) and the routes it accepted from that neighbour (both families)."""

    neighbor: str
    state: str
    prefixes_received: int


# --- BIRD 2 -------------------------------------------------------------------------------------------------------


def bird_protocol(neighbor: Neighbor) -> str:
    """The BIRD protocol name of a neighbour: `hubnet_192_168_1_2`, `hubnet_fd00__2`."""
    return "hubnet_" + re.sub(r"[.:]", "_", str(neighbor.address))


def render_bird(asn: int, router_id: IPv4Address, neighbors: Sequence[Neighbor]) -> str:
    """bird.conf: kernel protocols exporting BGP routes only, one BGP protocol per neighbour."""
    head = f"""\
# hubnet router (BIRD 2): learns the node routes over BGP only and installs them into the kernel table.
log stderr all;
router id {router_id};

protocol device {{ }}

# Connected networks, only so that a multihop session can resolve its next hops (never exported anywhere).
protocol direct {{
  ipv4;
  ipv6;
}}

# Only routes learned over BGP go to the kernel (`proto bird`); kernel routes of others are neither learned nor
# touched. A route removed from the kernel behind BIRD's back is put back at the next scan.
protocol kernel kernel4 {{
  scan time {KERNEL_SCAN_SECONDS};
  ipv4 {{ import none; export where source = RTS_BGP; }};
}}

protocol kernel kernel6 {{
  scan time {KERNEL_SCAN_SECONDS};
  ipv6 {{ import none; export where source = RTS_BGP; }};
}}

# hubnet's speaker: take every route as announced, announce nothing back. `gateway direct`: the next hop is the
# node's address on this router's LAN (a third-party next hop), used as the kernel route's gateway as it is.
# Graceful restart: when the speaker restarts, its routes stay (marked stale) for the restart time it advertised.
# `connect retry time`: after a failed attempt try again in seconds, not BIRD's default 2 minutes.
template bgp hubnet {{
  local as {asn};
  connect retry time {CONNECT_RETRY_SECONDS};
  graceful restart on;
  graceful restart time {GR_RESTART_SECONDS};
  ipv4 {{ import all; export none; gateway direct; }};
  ipv6 {{ import all; export none; gateway direct; }};
}}
"""
    return head + "".join(_bird_neighbor(n) for n in neighbors)


def _bird_neighbor(neighbor: Neighbor) -> str:
    port = f" port {neighbor.port}" if neighbor.port != 179 else ""
    lines = [f"  neighbor {neighbor.address}{port} as {neighbor.asn};"]
    if neighbor.multihop:  # the next hop is still on this router's LAN: found through the connected networks
        lines.append(f"  multihop {neighbor.multihop};")
        lines += ["  ipv4 { gateway recursive; };", "  ipv6 { gateway recursive; };"]
    else:
        lines.append("  direct;")
    if neighbor.password:
        lines.append(f'  password "{neighbor.password}";')
    body = "\n".join(lines)
    return f"\nprotocol bgp {bird_protocol(neighbor)} from hubnet {{\n{body}\n}}\n"


_BIRD_STATES = {"down": "idle", "close": "idle"}


def parse_bird_protocols(text: str) -> list[Session]:
    """Sessions from `birdc show protocols all`: every `hubnet_*` BGP protocol, its BGP state and the routes its
    channels imported."""
    sessions: list[Session] = []
    current: dict[str, Any] | None = None
    for line in text.splitlines():
        if line and not line[0].isspace():
            _close_bird(current, sessions)
            words = line.split()
            ours = len(words) > 1 and words[1] == "BGP" and words[0].startswith("hubnet_")
            current = {"imported": 0} if ours else None
            continue
        if current is None:
            continue
        key, _, value = line.strip().partition(":")
        if key == "BGP state":
            current["state"] = value.strip().lower()
        elif key == "Neighbor address":
            current["neighbor"] = value.strip().split("%")[0]
        elif key == "Routes":
            found = re.match(r"\s*(\d+) imported", value)
            current["imported"] += int(found.group(1)) if found else 0
    _close_bird(current, sessions)
    return sessions


def _close_bird(current: dict[str, Any] | None, sessions: list[Session]) -> None:
    if current is None or "neighbor" not in current:
        return
    state = current.get("state", "idle")
    sessions.append(Session(current["neighbor"], _BIRD_STATES.get(state, state), current["imported"]))


# --- FRR (zebra + bgpd) -------------------------------------------------------------------------------------------

FAMILIES = ("ipv4 unicast", "ipv6 unicast")


def render_zebra(hostname: str) -> str:
    """zebra.conf: zebra only installs what bgpd hands it; nothing to configure but logging."""
    return f"hostname {hostname}\nlog stdout informational\n"


def render_bgpd(asn: int, router_id: IPv4Address, neighbors: Sequence[Neighbor], hostname: str) -> str:
    """bgpd.conf: one `router bgp` with every neighbour activated for both families."""
    lines = [
        "! hubnet router (FRR bgpd + zebra): learns the node routes over BGP only; zebra installs them in the kernel.",
        "frr defaults traditional",
        f"hostname {hostname}",
        "log stdout informational",
        "!",
        "! Take every route as announced, announce nothing back.",
        "route-map hubnet-in permit 10",
        "exit",
        "route-map hubnet-out deny 10",
        "exit",
        "!",
        f"router bgp {asn}",
        f" bgp router-id {router_id}",
        " no bgp default ipv4-unicast",
        " ! Graceful restart: a restarting speaker's routes stay (stale) for the restart time it advertised.",
        " bgp graceful-restart",
        f" bgp graceful-restart restart-time {GR_RESTART_SECONDS}",
    ]
    for neighbor in neighbors:
        lines += [f" {line}" for line in frr_neighbor_lines(neighbor)]
    for family in FAMILIES:
        lines += [" !", f" address-family {family}"]
        for neighbor in neighbors:
            lines += [f"  {line}" for line in frr_family_lines(neighbor)]
        lines.append(" exit-address-family")
    lines += ["exit", "!"]
    return "\n".join(lines) + "\n"


def frr_neighbor_lines(neighbor: Neighbor) -> list[str]:
    """The `neighbor …` lines under `router bgp` (iBGP keeps the announced next hop as it is; so does eBGP when
    the next hop is on the router's LAN)."""
    peer = str(neighbor.address)
    lines = [f"neighbor {peer} remote-as {neighbor.asn}"]
    if neighbor.port != 179:
        lines.append(f"neighbor {peer} port {neighbor.port}")
    if neighbor.password:
        lines.append(f"neighbor {peer} password {neighbor.password}")
    if neighbor.multihop:
        lines.append(f"neighbor {peer} ebgp-multihop {neighbor.multihop}")
    lines.append(f"neighbor {peer} timers connect {CONNECT_RETRY_SECONDS}")
    return lines


def frr_family_lines(neighbor: Neighbor) -> list[str]:
    """The lines under each `address-family`: activate the neighbour, routes in, none out."""
    peer = str(neighbor.address)
    return [
        f"neighbor {peer} activate",
        f"neighbor {peer} route-map hubnet-in in",
        f"neighbor {peer} route-map hubnet-out out",
    ]


def frr_reconfigure(asn: int, old: Sequence[Neighbor], new: Sequence[Neighbor]) -> list[str]:
    """The vtysh commands that turn a running bgpd configured with `old` into one configured with `new`: gone or
    changed neighbours are removed, new or changed ones added; unchanged sessions are not touched. [] when the
    lists are the same."""
    before = {n.address: n for n in old}
    after = {n.address: n for n in new}
    drop = [a for a, n in before.items() if after.get(a) != n]
    add = [n for a, n in after.items() if before.get(a) != n]
    if not drop and not add:
        return []
    commands = ["configure terminal", f"router bgp {asn}"]
    commands += [f"no neighbor {a}" for a in drop]
    for neighbor in add:
        commands += frr_neighbor_lines(neighbor)
    for family in FAMILIES if add else ():
        commands.append(f"address-family {family}")
        for neighbor in add:
            commands += frr_family_lines(neighbor)
        commands.append("exit-address-family")
    return [*commands, "end"]


def parse_frr_neighbors(data: dict[str, Any]) -> list[Session]:
    """Sessions from `show bgp neighbors json`: the state and the prefixes accepted over every family."""
    sessions = []
    for address, facts in data.items():
        if not isinstance(facts, dict) or "bgpState" not in facts:
            continue
        families = facts.get("addressFamilyInfo") or {}
        accepted = sum(int(f.get("acceptedPrefixCounter", 0)) for f in families.values() if isinstance(f, dict))
        sessions.append(Session(str(ip_address(address)), str(facts["bgpState"]).lower(), accepted))
    return sessions
