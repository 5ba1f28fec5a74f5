"""A child we own: it dies with our process (PR_SET_PDEATHSIG) but not with the thread that asked for it, its
output reaches us line by line, and kill() reaps it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from hubnet.server.bgp.child import Child

ROOT = Path(__file__).resolve().parents[3]


def gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.02)
    return False


def test_output_reaches_us_and_kill_reaps() -> None:
    lines: list[str] = []
    child = Child(["sh", "-c", "echo one; echo two >&2; exec sleep 60"], lines=lines.append)
    deadline = time.monotonic() + 5
    while len(lines) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(lines) == ["one", "two"]
    assert child.alive
    child.kill()
    child.kill()  # idempotent
    assert not child.alive and child.process.returncode == -signal.SIGKILL


def test_a_child_started_from_a_thread_outlives_that_thread() -> None:
    """PDEATHSIG fires when the forking *thread* ends: every fork happens on one long-lived thread instead."""
    box: dict[str, Child] = {}
    worker = threading.Thread(target=lambda: box.update(child=Child(["sleep", "60"], lines=lambda _: None)))
    worker.start()
    worker.join()
    time.sleep(0.3)
    child = box["child"]
    try:
        assert child.alive
    finally:
        child.kill()


def test_the_child_dies_with_its_parent_process() -> None:
    code = (
        "import sys, threading, time\n"
        "from hubnet.server.bgp.child import Child\n"
        "holder = {}\n"
        "t = threading.Thread(target=lambda: holder.update(c=Child(['sleep', '60'], lines=lambda _: None)))\n"
        "t.start(); t.join()\n"
        "print(holder['c'].pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert not gone(pid, timeout=0.2)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert gone(pid), f"child {pid} outlived its killed parent"
    finally:
        parent.kill()
        parent.wait()
