"""keepalived as the HA lab runs it (hubnet.lab.vrrp: the rendered configuration, the Keepalived supervisor) on
two router namespaces and a node, all on a switch namespace's bridge: the router address moves to the backup
when the master dies (keepalived killed, its link down) and back when it returns, and a node pinging the address
at 10/s over each family loses at most 10 requests per move.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import ip_interface
from pathlib import Path

import pytest

from hubnet.lab import icmp, procs
from hubnet.lab.topology import ROUTER_SYSCTLS6
from hubnet.lab.vrrp import KEEPALIVED, LINK_LOCAL_VIP, Keepalived, VrrpRouter, render, vips
from hubnet.linux import labnet
from tests.support.netns import netns, sh
from tests.support.prereq import need, need_root_netns

pytestmark = pytest.mark.netns

UPLINK = "hnlab-up0"  # the interface name the lab's routers run VRRP on
VIP4, VIP6 = "192.168.1.1", "fd00:192:168:1::1"
MAX_LOST = 10  # requests at 10/s: at most one second of pings per move


@dataclass
class Net:
    switch: str
    routers: dict[str, str]  # r1/r2 -> namespace
    node: str
    keepalived: dict[str, Keepalived] = field(default_factory=dict)


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    """A switch (bridge, no address), routers r1 (.3, ::3) and r2 (.4, ::4), a node (.11, ::11); keepalived
    configured as the lab does it in each router. Every process in these namespaces is stopped at the end."""
    need_root_netns()
    need(shutil.which(KEEPALIVED) is not None, "needs keepalived (scripts/bootstrap.sh installs it)")
    with netns("vsw") as sw, netns("vr1") as r1, netns("vr2") as r2, netns("vnode") as node:
        built = Net(sw, {"r1": r1, "r2": r2}, node)
        try:
            labnet.ensure_bridge(sw, "hnt-br", [])
            labnet.set_multicast_snooping(sw, "hnt-br", False)
            for i, (name, ns) in enumerate(built.routers.items(), start=3):
                labnet.set_sysctls(ns, ROUTER_SYSCTLS6)  # as the lab's routers
                _wire(sw, ns, f"hnt-{name}", i)
            _wire(sw, node, "hnt-n1", 0x11)
            for (name, ns), priority in zip(built.routers.items(), (150, 100), strict=True):
                supervisor = Keepalived(ns, tmp_path / name, tmp_path / f"keepalived-{name}.log")
                supervisor.start(render(VrrpRouter(name, UPLINK, priority, vips((4, 6)))))
                built.keepalived[name] = supervisor
            yield built
        finally:
            procs.stop(procs.pids_in_netns([sw, r1, r2, node]))


def _wire(switch: str, ns: str, port: str, host: int) -> None:
    addresses = [ip_interface(f"192.168.1.{host if host < 0x10 else int(f'{host:x}')}/24")]
    addresses.append(ip_interface(f"fd00:192:168:1::{host:x}/64"))
    labnet.add_uplink(switch, "hnt-br", port, ns, UPLINK, addresses)


def held(ns: str) -> set[str]:
    """The virtual addresses namespace `ns` holds, as iproute2 shows them."""
    out = sh("ip", "-o", "addr", "show", "dev", UPLINK, ns=ns).stdout
    return {word.split("/")[0] for word in out.split() if word.split("/")[0] in (VIP4, VIP6)}


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    while not cond():
        assert time.monotonic() - start < timeout, f"not within {timeout}s: {what}"
        time.sleep(0.01)
    return time.monotonic() - start


class Pings:
    """Echo requests from `ns` to `address` every 0.1 s on an absolute schedule, each answered within 0.09 s or
    counted lost, in a thread until `stop()`."""

    def __init__(self, ns: str, address: str) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        proto = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
        self.sock = labnet.socket_in(ns, socket.SOCK_RAW, proto, family=family)
        self.address = address
        self.sent = 0
        self.lost: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            self.sent += 1
            if icmp.ping(self.sock, self.address, self.sent & 0xFFFF, timeout=0.09) is None:
                self.lost.append(self.sent)
            self._stop.wait(max(0.0, started + self.sent * 0.1 - time.monotonic()))

    def stop(self) -> tuple[int, list[int]]:
        self._stop.set()
        self._thread.join()
        self.sock.close()
        return self.sent, self.lost


@dataclass
class Move:
    takeover_s: float
    lost4: list[int]  # the sequence numbers lost over IPv4
    lost6: list[int]


def moved(net: Net, change: Callable[[], None], to: str, settle: float = 2.0) -> Move:
    """Ping both virtual addresses from the node, apply `change` after 2 s, wait until router `to` holds both;
    the takeover time and what each family lost."""
    pings = [Pings(net.node, VIP4), Pings(net.node, VIP6)]
    time.sleep(2.0)
    change()
    took = wait_for(lambda: held(net.routers[to]) == {VIP4, VIP6}, 5.0, f"{to} holds the router address")
    time.sleep(settle)
    results = [p.stop() for p in pings]
    assert all(sent >= 35 for sent, _ in results), results  # the pacing held: ~10/s for the whole window
    return Move(took, results[0][1], results[1][1])


@pytest.mark.parametrize("families", [(4, 6), (4,), (6,)], ids=["dual-stack", "ipv4", "ipv6"])
def test_config_passes_keepalived_own_check(tmp_path: Path, families: tuple[int, ...]) -> None:
    need_root_netns()
    need(shutil.which(KEEPALIVED) is not None, "needs keepalived (scripts/bootstrap.sh installs it)")
    conf = tmp_path / "keepalived.conf"
    conf.write_text(render(VrrpRouter("r1", UPLINK, 150, vips(families))))
    with netns("vcfg") as ns:
        sh("ip", "link", "add", UPLINK, "type", "veth", "peer", "name", "hnt-peer", ns=ns)
        done = sh(KEEPALIVED, "--config-test", f"--use-file={conf}", ns=ns, check=False)
    assert done.returncode == 0, done.stderr


def test_master_dies_backup_takes_over_and_master_returns(net: Net) -> None:
    wait_for(lambda: held(net.routers["r1"]) == {VIP4, VIP6}, 5.0, "r1 (priority 150) is the master")
    assert held(net.routers["r2"]) == set()

    def fail_r1() -> None:  # a dead router: keepalived killed (the address stays on its link), cable pulled
        net.keepalived["r1"].kill()
        labnet.set_link_state(net.routers["r1"], UPLINK, up=False)

    failover = moved(net, fail_r1, "r2")
    assert len(failover.lost4) <= MAX_LOST and len(failover.lost6) <= MAX_LOST, failover
    assert not net.keepalived["r1"].running
    # A killed keepalived leaves the addresses on the pulled cable (and r1 keeps its own IPv6 address there, so it
    # can reach the nodes when it returns); the lab's reading of who is master ignores a link that is down.
    assert held(net.routers["r1"]) == {VIP4, VIP6}
    assert "fd00:192:168:1::3/64" in sh("ip", "-6", "addr", "show", "dev", UPLINK, ns=net.routers["r1"]).stdout
    assert labnet.live_addresses(net.routers["r1"], UPLINK) == []

    def return_r1() -> None:  # as from a reboot (ha.restore_router): no stale address, cable in, keepalived
        labnet.delete_addresses(net.routers["r1"], UPLINK, [*vips((4, 6)), LINK_LOCAL_VIP])
        labnet.set_link_state(net.routers["r1"], UPLINK, up=True)
        supervisor = net.keepalived["r1"]
        supervisor.start(supervisor.conf.read_text())

    back = moved(net, return_r1, "r1")
    assert held(net.routers["r2"]) == set()
    assert len(back.lost4) <= MAX_LOST and len(back.lost6) <= MAX_LOST, back
    print(f"failover {failover}, return {back}")
