"""VRRP for the HA lab's routers: keepalived in each router namespace, the router address (192.168.1.1,
fd00:192:168:1::1) as the virtual address that the master holds, and who the master is, read from the namespaces.

VRRPv3 with 0.1 s advertisements: a backup takes over 3 adverts plus its skew after the last one it heard (r2,
priority 100: 0.3 + 0.06 s), sends gratuitous ARP / unsolicited neighbour advertisements, and the nodes' next
packet to the router address reaches it. One instance per address family (keepalived holds one family per
instance), both in one sync group so they change state together. r1 (150) preempts r2 (100) when it comes back.
keepalived runs in the foreground (`-n`), VRRP only (`-P`), its configuration and pid files in the router's
workdir, its log in the lab's logs; it forks one VRRP child, found through its pid file or the namespace.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from ipaddress import IPv4Interface, IPv6Interface
from pathlib import Path

from hubnet.lab import procs
from hubnet.lab.errors import LabError
from hubnet.lab.plan import NODE_UPLINK, ROUTER_ADDRESS, ROUTER_ADDRESS6, UNDERLAY, UNDERLAY6, LabPlan, MemberPlan
from hubnet.linux import labnet
from hubnet.linux.errors import LinuxError

KEEPALIVED = "keepalived"
VRID = 51  # one virtual router per family on the lab's own bridge (VRRP for IPv4 and IPv6 are separate protocols)
ADVERT_INT = 0.1
INSTANCES = {4: "hubnet_v4", 6: "hubnet_v6"}
LINK_LOCAL_VIP = IPv6Interface("fe80::1/64")  # the IPv6 virtual router's link-local address (RFC 5798 5.2.9)
START_TIMEOUT = 10.0
Interface = IPv4Interface | IPv6Interface


@dataclass(frozen=True)
class VrrpRouter:
    """What one router's keepalived.conf says: its name, the link VRRP runs on, its priority, the virtual
    addresses (one per family, IPv4 first)."""

    name: str
    interface: str
    priority: int
    vips: tuple[Interface, ...]


def vips(families: tuple[int, ...]) -> tuple[Interface, ...]:
    """The lab's virtual router addresses with the underlay's prefix, of the lab's families."""
    both: dict[int, Interface] = {
        4: IPv4Interface(f"{ROUTER_ADDRESS}/{UNDERLAY.prefixlen}"),
        6: IPv6Interface(f"{ROUTER_ADDRESS6}/{UNDERLAY6.prefixlen}"),
    }
    return tuple(both[f] for f in families)


def vrrp_router(plan: LabPlan, router: MemberPlan) -> VrrpRouter:
    return VrrpRouter(router.name, NODE_UPLINK, router.priority, vips(plan.families))


def render(router: VrrpRouter, advert_int: float = ADVERT_INT, vrid: int = VRID) -> str:
    """keepalived.conf of one router (kept readable: docs/lab.md shows it as the example for a real site)."""
    instances = [INSTANCES[vip.version] for vip in router.vips]
    group = ""
    if len(instances) > 1:  # keepalived drops a one-member group with a warning
        members = "".join(f"        {name}\n" for name in instances)
        group = f"vrrp_sync_group hubnet {{\n    group {{\n{members}    }}\n}}\n\n"
    body = "\n".join(_instance(router, vip, advert_int, vrid) for vip in router.vips)
    return (
        f"""\
# hubnet lab router {router.name}: holds the router address while it is the VRRP master.
global_defs {{
    router_id {router.name}
    vrrp_version 3
    # on takeover: 3 gratuitous ARPs / unsolicited NAs at once and 3 more a second later
    vrrp_garp_master_repeat 3
    vrrp_garp_master_delay 1
    # a master that hears a higher priority sends one more advert first, so the winner re-announces itself
    vrrp_higher_prio_send_advert true
    # adverts every {advert_int:g} s must not wait for a busy CPU: the VRRP process runs with realtime priority
    vrrp_rt_priority 10
    max_auto_priority -1
}}

{group}{body}""".rstrip()
        + "\n"
    )


def _instance(router: VrrpRouter, vip: Interface, advert_int: float, vrid: int) -> str:
    addresses = f"{vip} dev {router.interface}"
    if vip.version == 6:  # RFC 5798: a link-local address first; both usable at once (no DAD), like the lab's
        addresses = f"{LINK_LOCAL_VIP} dev {router.interface} -nodad\n        {addresses} -nodad"
    return f"""\
vrrp_instance {INSTANCES[vip.version]} {{
    state BACKUP
    interface {router.interface}
    virtual_router_id {vrid}
    priority {router.priority}
    advert_int {advert_int:g}
    virtual_ipaddress {{
        {addresses}
    }}
}}
"""


class Keepalived:
    """One router's keepalived: `keepalived.conf`, `keepalived.pid` (the parent), `vrrp.pid` (its VRRP child) in
    `workdir`, output appended to `log`."""

    def __init__(self, netns: str, workdir: Path, log: Path) -> None:
        self.netns = netns
        self.workdir = workdir
        self.log = log
        self.conf = workdir / "keepalived.conf"
        self.pid_file = workdir / "keepalived.pid"
        self.vrrp_pid_file = workdir / "vrrp.pid"

    def argv(self) -> list[str]:
        return [
            KEEPALIVED,
            "--dont-fork",
            "--log-console",
            "--log-detail",
            "--no-syslog",
            "--vrrp",
            f"--use-file={self.conf}",
            f"--pid={self.pid_file}",
            f"--vrrp_pid={self.vrrp_pid_file}",
        ]

    def start(self, config: str) -> int:
        """Write the configuration and start keepalived in the namespace; its pid once its VRRP child runs.
        LabError with the log tail when it exits or its child does not appear."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(config)
        for stale in (self.pid_file, self.vrrp_pid_file):
            stale.unlink(missing_ok=True)
        pid = procs.spawn(self.netns, self.argv(), self.log)
        deadline = time.monotonic() + START_TIMEOUT
        while _read_pid(self.vrrp_pid_file) is None:
            if not procs.alive(pid) or time.monotonic() > deadline:
                procs.stop([pid])
                raise LabError(f"keepalived in {self.netns} did not start; log tail of {self.log}:\n{self._tail()}")
            time.sleep(0.02)
        return pid

    def pids(self) -> list[int]:
        """The running keepalived processes of this router (parent and VRRP child), from the pid files."""
        found = (_read_pid(self.pid_file), _read_pid(self.vrrp_pid_file))
        return [p for p in found if p is not None and procs.alive(p)]

    @property
    def running(self) -> bool:
        return bool(self.pids())

    def stop(self) -> None:
        """SIGTERM: keepalived gives the address up and sends a priority-0 advert (the backup takes over at once)."""
        procs.stop(self.pids())

    def kill(self) -> None:
        """SIGKILL, the VRRP child first: a crash. The router keeps the address on its link (a real dead router
        says nothing either): pull its cable too (`ha.fail_router`) or the backup and it both answer for it."""
        for pid in reversed(self.pids()):
            procs.kill([pid], timeout=0.0)
        procs.kill(self.pids())

    def _tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def holders(plan: LabPlan) -> dict[str, list[str]]:
    """router name -> the virtual addresses it holds now on its uplink, IPv4 first (a router whose link is down,
    or whose namespace is gone, holds none: a killed keepalived leaves the address on a pulled cable)."""
    wanted = {str(v.ip) for v in vips(plan.families)}
    held: dict[str, list[str]] = {}
    for router in plan.routers:
        try:
            found = labnet.live_addresses(router.netns, NODE_UPLINK)
        except (LinuxError, OSError):
            found = []
        held[router.name] = sorted((a for a in found if a in wanted), key=lambda a: ":" in a)
    return held


def master(plan: LabPlan) -> str | None:
    """The router holding every virtual address now (None: none does, or more than one)."""
    return elect(holders(plan), len(plan.families))


def elect(held: dict[str, list[str]], families: int) -> str | None:
    """The one router holding all `families` virtual addresses, or None (none does, or two do: a split brain)."""
    owners = [name for name, addresses in held.items() if len(addresses) == families]
    return owners[0] if len(owners) == 1 else None


def wait_master(plan: LabPlan, timeout: float) -> str:
    """Until exactly one router holds every virtual address; its name. LabError showing who holds what."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = master(plan)
        if found is not None:
            return found
        time.sleep(0.05)
    raise LabError(f"no single VRRP master within {timeout:.0f}s (virtual addresses held: {holders(plan)})")
