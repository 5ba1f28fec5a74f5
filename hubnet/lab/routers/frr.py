"""FRR as the router: zebra (the kernel table) and bgpd per namespace, without watchfrr; their configuration
(`zebra.conf`, `bgpd.conf`, rendered here: the example docs/bgp.md shows, so keep it readable), the vtysh
commands that change the neighbours of a running bgpd, and the session listing."""

from __future__ import annotations

import contextlib
import grp
import json
from collections.abc import Sequence
from ipaddress import IPv4Address, ip_address
from pathlib import Path
from typing import Any

from hubnet.lab.routers.base import (
    CONNECT_RETRY_SECONDS,
    GR_RESTART_SECONDS,
    Daemons,
    Neighbor,
    RouterError,
    Session,
    run_control,
)

FRR_DIR = Path("/usr/lib/frr")
VTYSH = "vtysh"
FRR_RUN_DIR = Path("/var/run/frr")  # where `-N <pathspace>` makes a directory of its own

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


class FrrRouter(Daemons):
    """FRR: zebra (the kernel table) and bgpd, without watchfrr, in their own pathspace (`-N`) with their vty
    sockets, zserv socket and pid files under `workdir`. They run as root with the group `frrvty` (FRR insists
    that its user belongs to the vty group), so they reach a workdir that only root may enter."""

    kind = "frr"
    kernel_proto = 186  # RTPROT_BGP: zebra marks routes by the protocol that chose them

    @property
    def pathspace(self) -> str:
        return pathspace(self.netns)

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        grp.getgrnam("frrvty")  # KeyError would be a broken FRR install; fail before spawning anything
        (self.workdir / "zebra.conf").write_text(render_zebra(self.netns))
        (self.workdir / "bgpd.conf").write_text(self._bgpd(self.neighbors))
        for daemon in ("zebra", "bgpd"):
            check_frr_config(self._argv(daemon))
        self._spawn("zebra", self._argv("zebra"))
        self._wait("zebra", lambda: (self.workdir / "zserv.api").exists() and self._vty("zebra"), "zserv socket")
        self._spawn("bgpd", self._argv("bgpd"))
        self._wait("bgpd", lambda: self._vty("bgpd"), "vty")

    def configure(self, neighbors: Sequence[Neighbor]) -> None:
        """Apply the difference over vtysh (unchanged sessions stay up) and rewrite bgpd.conf for the next start."""
        commands = frr_reconfigure(self.asn, self.neighbors, neighbors)
        if commands:
            out = self._vtysh(*commands, stderr=True)
            if "%" in out:  # vtysh reports a refused line with "% …" and may still exit 0
                raise RouterError(f"vtysh in {self.netns} refused the new neighbours: {out.strip()[-500:]}")
        (self.workdir / "bgpd.conf").write_text(self._bgpd(neighbors))
        self.neighbors = list(neighbors)

    def sessions(self) -> list[Session]:
        out = self._vtysh("show bgp neighbors json")
        try:
            data = json.loads(out)
        except ValueError as exc:
            raise RouterError(f"vtysh in {self.netns}: not JSON: {out[:200]!r}") from exc
        return parse_frr_neighbors(data)

    def _bgpd(self, neighbors: Sequence[Neighbor]) -> str:
        return render_bgpd(self.asn, self.router_id, neighbors, self.netns)

    def _argv(self, daemon: str) -> list[str]:
        wd = self.workdir
        return [
            str(FRR_DIR / daemon),
            *("-N", self.pathspace, "--vty_socket", str(wd), "-z", str(wd / "zserv.api")),
            *("-f", str(wd / f"{daemon}.conf"), "-i", str(wd / f"{daemon}.pid")),
            *("-P", "0", "-u", "root", "-g", "frrvty"),  # -P 0: no TCP vty port, only the socket under workdir
        ]

    def _vtysh(self, *commands: str, stderr: bool = False) -> str:
        argv = [VTYSH, "--vty_socket", str(self.workdir), "-d", "bgpd"]
        for command in commands:
            argv += ["-c", command]
        return run_control(argv, f"vtysh in {self.netns}", stderr=stderr)

    def _vty(self, daemon: str) -> bool:
        if not (self.workdir / f"{daemon}.vty").exists():
            return False
        argv = [VTYSH, "--vty_socket", str(self.workdir), "-d", daemon, "-c", "show version"]
        try:
            run_control(argv, f"vtysh {daemon}")
        except RouterError:
            return False
        return True

    def _cleanup(self) -> None:
        remove_pathspace(self.netns)


def check_frr_config(argv: list[str]) -> None:
    """Dry-run an FRR daemon on its configuration (`-C`): it exits 0 even when it skipped a line it did not
    understand, so its complaints are what tells; RouterError quoting them."""
    out = run_control([*argv, "-C"], f"{Path(argv[0]).name} -C", stderr=True)
    refused = [line for line in out.splitlines() if "config line" in line]  # "No such command on config line 7"
    if refused:
        raise RouterError(f"{Path(argv[0]).name} refused its configuration: {'; '.join(refused)[-500:]}")


def pathspace(netns: str) -> str:
    """FRR's `-N` pathspace of the router in `netns` (one per namespace, so several routers never share one)."""
    return f"hubnet-{netns}"


def remove_pathspace(netns: str) -> None:
    """Remove the directory `-N` made under /var/run/frr (empty: every path the daemons use is under workdir)."""
    with contextlib.suppress(OSError):
        (FRR_RUN_DIR / pathspace(netns)).rmdir()
