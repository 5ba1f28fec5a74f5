"""A real BGP router inside a network namespace: BIRD 2 or FRR (zebra + bgpd), learning the node routes from
hubnet's speaker over BGP and installing them into the namespace's kernel table (`hubnet.lab.routers`).

Each instance keeps everything under its own `workdir` (configuration, control sockets, pid files, logs), so
several run at once, one per namespace. The daemons run in the foreground in their own session (they outlive the
lab's `up`, like the controller); `stop` ends them by pid.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from ipaddress import IPv4Address
from pathlib import Path
from typing import Protocol

from hubnet.lab.routers.base import Neighbor, RouterError, Session
from hubnet.lab.routers.bird import BIRD, BIRDC, BirdRouter
from hubnet.lab.routers.frr import FRR_DIR, VTYSH, FrrRouter
from hubnet.net import Address, Network

__all__ = ["KINDS", "BgpRouter", "BirdRouter", "FrrRouter", "Neighbor", "RouterError", "Session", "make_router"]

KINDS = ("bird", "frr")
PACKAGES = {"bird": "bird2", "frr": "frr"}  # the Debian packages


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
    def installed(self) -> dict[Network, Address]: ...


def missing_binaries(kind: str) -> list[str]:
    """The programs router `kind` needs that are not installed (empty: it can run)."""
    wanted = {"bird": [BIRD, BIRDC], "frr": [str(FRR_DIR / "zebra"), str(FRR_DIR / "bgpd"), VTYSH]}[kind]
    return [b for b in wanted if shutil.which(b) is None]


def make_router(
    kind: str, netns: str, asn: int, router_id: IPv4Address, neighbors: Sequence[Neighbor], workdir: Path
) -> BgpRouter:
    """A router of `kind` ("bird" or "frr"), not started; raises RouterError when the daemon is not installed."""
    if kind not in KINDS:
        raise RouterError(f"unknown router kind {kind!r} (one of {', '.join(KINDS)})")
    missing = missing_binaries(kind)
    if missing:
        raise RouterError(f"the {kind} router needs {', '.join(missing)}: apt-get install {PACKAGES[kind]}")
    cls = BirdRouter if kind == "bird" else FrrRouter
    return cls(netns, asn, router_id, neighbors, workdir)
