"""Detached processes inside lab namespaces: start, find (by pid record or by namespace), stop.

`down` must work after `up` crashed at any point, so it does not rely on the pid records alone: every process
whose network namespace is one of the lab's is found through /proc and stopped too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from hubnet.linux.netns import path_of


def spawn(netns: str, argv: list[str], log: Path, env: Mapping[str, str] | None = None) -> int:
    """Start `argv` inside `netns`, in its own session (it outlives us), output appended to `log`; the pid.

    `ip netns exec` execs in place (the pid is the command's) and also gives the command the namespace's
    own /sys view, which tools reading /sys/class/net expect.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            close_fds=True,
        )
    return proc.pid


def run(netns: str | None, argv: list[str], timeout: float, env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """Run `argv` inside `netns` (None: in ours) to completion; (exit code, combined output). Raises TimeoutError."""
    try:
        done = subprocess.run(
            ["ip", "netns", "exec", netns, *argv] if netns else argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )
    except subprocess.TimeoutExpired as exc:
        where = f" in {netns}" if netns else ""
        raise TimeoutError(f"{' '.join(argv[:4])} …{where} did not finish within {timeout:.0f}s") from exc
    return done.returncode, (done.stdout + done.stderr).strip()


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False


def pids_in_netns(names: Iterable[str]) -> list[int]:
    """Every process whose network namespace is one of the named namespaces."""
    wanted = set()
    for name in names:
        try:
            st = os.stat(path_of(name))
        except FileNotFoundError:
            continue
        wanted.add((st.st_dev, st.st_ino))
    if not wanted:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
        if (st.st_dev, st.st_ino) in wanted:
            found.append(int(entry))
    return sorted(found)


def stop(pids: Iterable[int], timeout: float = 5.0) -> list[int]:
    """SIGTERM, then SIGKILL what is still alive after `timeout`; the pids that had to be killed."""
    targets = [p for p in set(pids) if p != os.getpid() and alive(p)]
    for pid in targets:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in targets):
        _reap(targets)
        time.sleep(0.05)
    killed = [p for p in targets if alive(p)]
    for pid in killed:
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and any(alive(p) for p in killed):
        _reap(killed)
        time.sleep(0.05)
    return killed


def kill(pids: Iterable[int], timeout: float = 2.0) -> None:
    """SIGKILL at once (a crash: no clean-up of any kind), then wait up to `timeout` for them to be gone."""
    targets = [p for p in set(pids) if p and p != os.getpid() and alive(p)]
    for pid in targets:
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in targets):
        _reap(targets)
        time.sleep(0.02)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _reap(pids: Iterable[int]) -> None:
    """Collect our own children (when we started them in this process) so they do not linger as zombies."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
