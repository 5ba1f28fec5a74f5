"""A real BGP router inside a network namespace: BIRD 2 or FRR (zebra + bgpd), learning the node routes from
hubnet's speaker over BGP and installing them into the namespace's kernel table.

Each instance keeps everything under its own `workdir` (configuration, control sockets, pid files, logs), so
several run at once, one per namespace. The daemons run in the foreground in their own session (they outlive the
lab's `up`, like the controller); `stop` ends them by pid. What they are told is rendered in `routerconf`.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address
from pathlib import Path
from typing import Protocol

from hubnet.lab import procs, routerconf
from hubnet.lab.routerconf import Neighbor, Session

__all__ = ["KINDS", "BgpRouter", "BirdRouter", "FrrRouter", "Neighbor", "RouterError", "Session", "make_router"]

KINDS = ("bird", "frr")
BIRD = "bird"
BIRDC = "birdc"
FRR_DIR = Path("/usr/lib/frr")
VTYSH = "vtysh"
FRR_RUN_DIR = Path("/var/run/frr")  # where `-N <pathspace>` makes a directory of its own
START_TIMEOUT = 15.0
COMMAND_TIMEOUT = 10.0


class RouterError(RuntimeError):
    """A router daemon could not be started, configured or asked; the message names it and its log."""


class BgpRouter(Protocol):
    kind: str
    netns: str
    workdir: Path
    neighbors: list[Neighbor]
    pids: dict[str, int]  # daemon name -> pid, while running

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def kill(self) -> None: ...
    def restart(self) -> None: ...
    def configure(self, neighbors: Sequence[Neighbor]) -> None: ...
    def sessions(self) -> list[Session]: ...


def missing_binaries(kind: str) -> list[str]:
    """The programs router `kind` needs that are not installed (empty: it can run)."""
    wanted = {"bird": [BIRD, BIRDC], "frr": [str(FRR_DIR / "zebra"), str(FRR_DIR / "bgpd"), VTYSH]}[kind]
    return [b for b in wanted if shutil.which(b) is None]


def make_router(
    kind: str, netns: str, asn: int, router_id: IPv4Address, neighbors: Sequence[Neighbor], workdir: Path
) -> BgpRouter:
    """A router of `kind` ("bird" or "frr"); raises RouterError when the daemon is not installed."""
    if kind not in KINDS:
        raise RouterError(f"unknown router kind {kind!r} (one of {', '.join(KINDS)})")
    missing = missing_binaries(kind)
    if missing:
        package = {"bird": "bird2", "frr": "frr"}[kind]
        raise RouterError(f"the {kind} router needs {', '.join(missing)}: apt-get install {package}")
    cls = BirdRouter if kind == "bird" else FrrRouter
    return cls(netns, asn, router_id, neighbors, workdir)


class _Daemons:
    """Start, stop and kill the daemons of one router by pid; shared by both kinds."""

    kind = ""

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


def _run(argv: list[str], what: str) -> str:
    """Run a control command (birdc, vtysh: they talk over unix sockets, no namespace needed); its output."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RouterError(f"{what}: {exc}") from exc
    if done.returncode != 0:
        raise RouterError(f"{what} failed (exit {done.returncode}): {(done.stdout + done.stderr).strip()[-500:]}")
    return done.stdout


class BirdRouter(_Daemons):
    """BIRD 2: one `bird` process, controlled over its socket `workdir/bird.ctl`."""

    kind = "bird"

    @property
    def config(self) -> Path:
        return self.workdir / "bird.conf"

    @property
    def socket(self) -> Path:
        return self.workdir / "bird.ctl"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._write(self.neighbors)
        argv = [BIRD, "-f", "-c", str(self.config), "-s", str(self.socket), "-P", str(self.workdir / "bird.pid")]
        self._spawn("bird", argv)
        self._wait("bird", self._answers, "control socket")

    def configure(self, neighbors: Sequence[Neighbor]) -> None:
        """Rewrite bird.conf and `birdc configure`: BIRD restarts only the BGP protocols that changed."""
        self._write(neighbors)
        out = _run([BIRDC, "-s", str(self.socket), "configure"], f"birdc configure in {self.netns}")
        if "Reconfigured" not in out and "Reconfiguration in progress" not in out:
            raise RouterError(f"birdc configure in {self.netns}: {out.strip()}")
        self.neighbors = list(neighbors)

    def sessions(self) -> list[Session]:
        out = _run([BIRDC, "-s", str(self.socket), "show", "protocols", "all"], f"birdc in {self.netns}")
        return routerconf.parse_bird_protocols(out)

    def _write(self, neighbors: Sequence[Neighbor]) -> None:
        """Write the configuration after BIRD itself accepted it (`bird -p`), so a bad one never replaces a good one."""
        new = self.config.with_suffix(".new")
        new.write_text(routerconf.render_bird(self.asn, self.router_id, neighbors))
        _run([BIRD, "-p", "-c", str(new)], f"bird -p {new}")
        os.replace(new, self.config)

    def _answers(self) -> bool:
        try:
            _run([BIRDC, "-s", str(self.socket), "show", "status"], "birdc show status")
        except RouterError:
            return False
        return True


class FrrRouter(_Daemons):
    """FRR: zebra (the kernel table) and bgpd, without watchfrr, in their own pathspace (`-N`) with their vty
    sockets, zserv socket and pid files under `workdir`. They run as root with the group `frrvty` (FRR insists
    that its user belongs to the vty group), so they reach a workdir that only root may enter."""

    kind = "frr"

    @property
    def pathspace(self) -> str:
        return f"hubnet-{self.netns}"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        grp.getgrnam("frrvty")  # KeyError would be a broken FRR install; fail before spawning anything
        (self.workdir / "zebra.conf").write_text(routerconf.render_zebra(self.netns))
        (self.workdir / "bgpd.conf").write_text(self._bgpd(self.neighbors))
        self._spawn("zebra", self._argv("zebra"))
        self._wait("zebra", lambda: (self.workdir / "zserv.api").exists() and self._vty("zebra"), "zserv socket")
        self._spawn("bgpd", self._argv("bgpd"))
        self._wait("bgpd", lambda: self._vty("bgpd"), "vty")

    def configure(self, neighbors: Sequence[Neighbor]) -> None:
        """Apply the difference over vtysh (unchanged sessions stay up) and rewrite bgpd.conf for the next start."""
        commands = routerconf.frr_reconfigure(self.asn, self.neighbors, neighbors)
        if commands:
            out = self._vtysh(*commands)
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
        return routerconf.parse_frr_neighbors(data)

    def _bgpd(self, neighbors: Sequence[Neighbor]) -> str:
        return routerconf.render_bgpd(self.asn, self.router_id, neighbors, self.netns)

    def _argv(self, daemon: str) -> list[str]:
        wd = self.workdir
        return [
            str(FRR_DIR / daemon),
            *("-N", self.pathspace, "--vty_socket", str(wd), "-z", str(wd / "zserv.api")),
            *("-f", str(wd / f"{daemon}.conf"), "-i", str(wd / f"{daemon}.pid")),
            *("-P", "0", "-u", "root", "-g", "frrvty"),  # -P 0: no TCP vty port, only the socket under workdir
        ]

    def _vtysh(self, *commands: str) -> str:
        argv = [VTYSH, "--vty_socket", str(self.workdir), "-d", "bgpd"]
        for command in commands:
            argv += ["-c", command]
        return _run(argv, f"vtysh in {self.netns}")

    def _vty(self, daemon: str) -> bool:
        if not (self.workdir / f"{daemon}.vty").exists():
            return False
        argv = [VTYSH, "--vty_socket", str(self.workdir), "-d", daemon, "-c", "show version"]
        try:
            _run(argv, f"vtysh {daemon}")
        except RouterError:
            return False
        return True

    def _cleanup(self) -> None:
        with contextlib.suppress(OSError):
            (FRR_RUN_DIR / self.pathspace).rmdir()  # made by -N; empty, as every path is under workdir
