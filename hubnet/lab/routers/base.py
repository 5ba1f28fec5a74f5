"""What both router kinds share: the neighbour and session records, the error, and the supervision of the daemons
of one router inside its namespace (spawned in the foreground in their own session, so they outlive the lab's
`up` like the controller; stopped and killed by pid; their logs under the router's workdir).

The router learns the node routes over BGP only, from hubnet's speaker, and installs them into its kernel table
with the next hop as announced (the node's address: a third-party next hop on the router's own LAN). It announces
nothing back. Graceful restart is on, so a speaker that restarts keeps its routes in the router for the restart
time it advertised (hubnet: 120 s). Both families on every session: IPv6 routes carry IPv6 next hops in
MP_REACH_NLRI, so they also travel over an IPv4 session (no extended next hop needed for that).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from hubnet.lab import procs
from hubnet.linux.routes import RouteTable
from hubnet.net import Address, Network

START_TIMEOUT = 15.0
COMMAND_TIMEOUT = 10.0
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


class RouterError(RuntimeError):
    """A router daemon could not be started, configured or asked; the message names it and its log."""


class Daemons:
    """Start, stop and kill the daemons of one router by pid; shared by both kinds."""

    kind = ""
    kernel_proto = 0  # the protocol number of the routes the daemon puts into the kernel table

    def __init__(
        self, netns: str, asn: int, router_id: IPv4Address, neighbors: Sequence[Neighbor], workdir: Path
    ) -> None:
        self.netns = netns
        self.asn = asn
        self.router_id = router_id
        self.neighbors = list(neighbors)
        self.workdir = workdir
        self.pids: dict[str, int] = {}

    def log(self, daemon: str) -> Path:
        return self.workdir / f"{daemon}.log"

    @property
    def running(self) -> bool:
        return bool(self.pids) and all(procs.alive(p) for p in self.pids.values())

    def installed(self) -> dict[Network, Address]:
        """prefix -> next hop of the routes this router put into its namespace's main table (both families)."""
        table = RouteTable(proto=self.kernel_proto, netns=self.netns)
        try:
            return {r.prefix: r.next_hop for r in table.owned()}
        finally:
            table.close()

    def stop(self) -> None:
        """SIGTERM (a clean BGP shutdown: the neighbours are told), SIGKILL after 5 s. Idempotent."""
        procs.stop(self.pids.values())
        self.pids.clear()
        self._cleanup()

    def kill(self) -> None:
        """SIGKILL every daemon: a router crash (no NOTIFICATION, kernel routes left as they are)."""
        for pid in self.pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        procs.stop(self.pids.values(), timeout=2.0)
        self.pids.clear()
        self._cleanup()

    def restart(self) -> None:
        self.stop()
        self.start()

    def start(self) -> None:
        """Write the configuration, start the daemons, wait until they answer; RouterError (with the log tail)
        when one does not, after stopping what did start."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        raise NotImplementedError

    def _cleanup(self) -> None:
        return None

    def _spawn(self, daemon: str, argv: list[str]) -> int:
        pid = procs.spawn(self.netns, argv, self.log(daemon))
        self.pids[daemon] = pid
        return pid

    def _wait(self, daemon: str, ready: Callable[[], bool], what: str) -> None:
        """Poll `ready()` until it is true; RouterError with the log tail when the daemon exits or time runs out."""
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if not procs.alive(self.pids[daemon]):
                raise RouterError(f"{daemon} in {self.netns} exited during start-up{self._tail(daemon)}")
            if time.monotonic() > deadline:
                late = f"{what} not ready within {START_TIMEOUT:.0f}s"
                raise RouterError(f"{daemon} in {self.netns}: {late}{self._tail(daemon)}")
            time.sleep(0.05)

    def _tail(self, daemon: str, lines: int = 10) -> str:
        try:
            text = self.log(daemon).read_text(errors="replace").splitlines()[-lines:]
        except FileNotFoundError:
            return ""
        return f"; log tail of {self.log(daemon)}:\n" + "\n".join(text)


def run_control(argv: list[str], what: str, stderr: bool = False) -> str:
    """Run a control command (birdc, vtysh: they talk over unix sockets, no namespace needed); its output (with
    its error output after it when `stderr`)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RouterError(f"{what}: {exc}") from exc
    if done.returncode != 0:
        raise RouterError(f"{what} failed (exit {done.returncode}): {(done.stdout + done.stderr).strip()[-500:]}")
    return done.stdout + done.stderr if stderr else done.stdout
