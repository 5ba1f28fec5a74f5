"""End-to-end tier: the real `hubnet lab` CLI builds labs of real processes in namespaces named `hnlab-<name>-`.

Every lab a test builds gets a unique name and is taken down even when the test fails. The prerequisites are
root + iproute2 + nft and the other pieces of hubnet in the CLI (controller, node agent, CNI plugin): when one
is missing the tier skips locally and fails under CI=true (`tests.support.prereq.need`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.prereq import need, need_root_netns

HUBNET = str(Path(sys.executable).with_name("hubnet"))
UP_TIMEOUT = 240


def hubnet(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real CLI; with `check`, a non-zero exit fails the test with the command's output."""
    done = subprocess.run([HUBNET, *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        pytest.fail(f"`hubnet {' '.join(args)}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def sh(*args: str, ns: str | None = None) -> str:
    cmd = ["ip", "netns", "exec", ns, *args] if ns else list(args)
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def cli_has(*path: str) -> bool:
    """True when `hubnet <path…> --help` works, i.e. that piece of hubnet is in the tree."""
    done = subprocess.run([HUBNET, *path, "--help"], capture_output=True, text=True, timeout=60)
    return done.returncode == 0


def need_lab() -> None:
    need_root_netns()
    need(shutil.which("nft") is not None, "needs nftables (`nft`)")
    for path in (("server",), ("node", "join"), ("node", "pod", "add")):
        need(cli_has(*path), f"`hubnet {' '.join(path)}` is not in the tree yet")


def lab_name(tag: str) -> str:
    return f"{tag}{secrets.token_hex(2)}"


def status(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(hubnet("lab", "status", "--name", name, "--json").stdout)
    return data


def check(name: str) -> tuple[int, dict[str, Any]]:
    done = hubnet("lab", "check", "--name", name, "--json", check=False, timeout=300)
    return done.returncode, json.loads(done.stdout)


def lab_netns(name: str) -> list[str]:
    names = os.listdir("/var/run/netns") if os.path.isdir("/var/run/netns") else []
    return sorted(n for n in names if n.startswith(f"hnlab-{name}-"))


_VOLATILE = re.compile(r"(valid_lft|preferred_lft|expires)\s+\S+")


def root_snapshot() -> dict[str, str]:
    """What `up` … `down` must leave unchanged in the root namespace (lifetimes normalised away)."""
    views = {
        "routes": ["ip", "route", "show", "table", "all"],
        "addresses": ["ip", "addr"],
        "rules": ["ip", "rule"],
        "nft": ["nft", "list", "tables"],
    }
    snap = {key: _VOLATILE.sub(r"\1 _", sh(*argv)) for key, argv in views.items()}
    snap["lab links"] = "\n".join(line for line in sh("ip", "-o", "link").splitlines() if "hnlab-" in line)
    return snap


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line contains `text` (e.g. a lab's state directory: its controller, agents, pod adds)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                if entry.isdigit() and text.encode() in fh.read():
                    found.append(int(entry))
        except (FileNotFoundError, NotADirectoryError, PermissionError, ProcessLookupError):
            continue
    return found


@pytest.fixture
def cleanup() -> Iterator[list[str]]:
    """Names appended here are taken down after the test, pass or fail."""
    names: list[str] = []
    yield names
    for name in names:
        hubnet("lab", "down", "--name", name, check=False)
