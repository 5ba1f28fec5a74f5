"""BIRD 2 as the router: one `bird` process per namespace, its configuration (`bird.conf`, rendered here: the
example docs/bgp.md shows, so keep it readable), control socket, pid file and log under the router's workdir."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from hubnet.lab.routers.base import (
    CONNECT_RETRY_SECONDS,
    GR_RESTART_SECONDS,
    KERNEL_SCAN_SECONDS,
    Daemons,
    Neighbor,
    RouterError,
    Session,
    run_control,
)

BIRD = "bird"
BIRDC = "birdc"


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
    if neighbor.multihop:
        lines.append(f"  multihop {neighbor.multihop};")
        lines.append("  # BIRD allows no direct gateway on a multihop session: the node's address (on this LAN) is")
        lines.append("  # found through the connected networks instead.")
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


class BirdRouter(Daemons):
    """BIRD 2: one `bird` process, controlled over its socket `workdir/bird.ctl`."""

    kind = "bird"
    kernel_proto = 12  # RTPROT_BIRD

    @property
    def config(self) -> Path:
        return self.workdir / "bird.conf"

    @property
    def socket(self) -> Path:
        return self.workdir / "bird.ctl"

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._write(self.neighbors)
        argv = [BIRD, "-f", "-c", str(self.config), "-s", str(self.socket), "-P", str(self.workdir / "bird.pid")]
        self._spawn("bird", argv)
        self._wait("bird", self._answers, "control socket")

    def configure(self, neighbors: Sequence[Neighbor]) -> None:
        """Rewrite bird.conf and `birdc configure`: BIRD restarts only the BGP protocols that changed."""
        self._write(neighbors)
        out = run_control([BIRDC, "-s", str(self.socket), "configure"], f"birdc configure in {self.netns}")
        if "Reconfigured" not in out and "Reconfiguration in progress" not in out:
            raise RouterError(f"birdc configure in {self.netns}: {out.strip()}")
        self.neighbors = list(neighbors)

    def sessions(self) -> list[Session]:
        out = run_control([BIRDC, "-s", str(self.socket), "show", "protocols", "all"], f"birdc in {self.netns}")
        return parse_bird_protocols(out)

    def _write(self, neighbors: Sequence[Neighbor]) -> None:
        """Write the configuration after BIRD itself accepted it (`bird -p`), so a bad one never replaces a good one."""
        new = self.config.with_suffix(".new")
        new.write_text(render_bird(self.asn, self.router_id, neighbors))
        run_control([BIRD, "-p", "-c", str(new)], f"bird -p {new}")
        os.replace(new, self.config)

    def _answers(self) -> bool:
        try:
            run_control([BIRDC, "-s", str(self.socket), "show", "status"], "birdc show status")
        except RouterError:
            return False
        return True
