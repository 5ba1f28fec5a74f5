"""Throwaway network namespaces for tests: uniquely named `hnt-<tag>-<random>`, always removed."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

PREFIX = "hnt-"


def sh(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command (inside `ns` when given). Tests may shell out; product code uses netlink."""
    cmd = ["ip", "netns", "exec", ns, *args] if ns else list(args)
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


_CREATED: set[str] = set()


def new_name(tag: str) -> str:
    """A unique `hnt-<tag>-<hex>` name, remembered so this run (and only this run) sweeps it at the end."""
    name = f"{PREFIX}{tag}-{secrets.token_hex(3)}"
    _CREATED.add(name)
    return name


def add_netns(name: str) -> None:
    sh("ip", "netns", "add", name)
    sh("ip", "link", "set", "lo", "up", ns=name)


def del_netns(name: str) -> None:
    sh("ip", "netns", "del", name, check=False)


@contextmanager
def netns(tag: str) -> Iterator[str]:
    """A fresh namespace with `lo` up, deleted on exit even when the test fails."""
    name = new_name(tag)
    add_netns(name)
    try:
        yield name
    finally:
        del_netns(name)


def leftover_netns() -> list[str]:
    """Namespaces this test run named that still exist (another run's namespaces are never touched)."""
    out = sh("ip", "netns", "list", check=False).stdout
    present = {line.split()[0] for line in out.splitlines() if line.strip()}
    return sorted(present & _CREATED)
