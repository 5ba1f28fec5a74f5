"""The lab's state directory and state file: what `up` created, so `status`, `check` and `down` can find it.

Layout (`/run/hubnet-lab/<name>/`, tmpfs like the namespaces themselves, so a reboot forgets both together):
  state.json          this module's record (written atomically after every step of `up`)
  controller/         the controller's HUBNET_STATE_DIR (SQLite database)
  router/             the BGP router's workdir (`--router bird|frr`: configuration, control sockets, logs)
  routers/<r>/        HA lab: a router's keepalived.conf and pid files, its agent's --state-dir (agent/)
  controllers/<c>/    HA lab: each controller's HUBNET_STATE_DIR
  db/                 HA lab: the PostgreSQL cluster directory (owned by `postgres`)
  nodes/<node>/       each agent's --state-dir, cni/conf (--cni-conf-dir), cni/bin (--cni-bin-dir)
  logs/<process>.log  stdout+stderr of every process the lab started
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hubnet.lab.plan import LabPlan, make_plan, validate_name

ROOT = Path(os.environ.get("HUBNET_LAB_ROOT", "/run/hubnet-lab"))


@dataclass
class PodState:
    name: str
    netns: str
    ip: str | None = None  # the primary (IPv4 when there is one)
    ips: list[str] = field(default_factory=list)  # every family's, IPv4 first


@dataclass
class LabState:
    name: str
    nodes: int
    pods: int
    bootstrap_token: str
    admin_token: str
    phase: str = "building"  # building | ready
    processes: dict[str, int] = field(default_factory=dict)  # "controller" / "agent-node-1" -> pid
    subnets: dict[str, str] = field(default_factory=dict)  # node -> primary subnet (IPv4 when there is one)
    # A state file written before dual-stack has no `families`: that lab was IPv4-only.
    families: list[int] = field(default_factory=lambda: [4])
    node_subnets: dict[str, list[str]] = field(default_factory=dict)  # node -> every family's subnet, IPv4 first
    node_pods: dict[str, list[PodState]] = field(default_factory=dict)  # node -> pods attached
    router: str = "kernel"  # `--router`: kernel | bird | frr (a state file from before BGP labs: kernel)
    routers: int = 1  # `--routers` / `--controllers`: anything but 1/1 is the HA lab
    controllers: int = 1
    mode: str = "hub"  # `--mode`: hub | direct (HUBNET_MODE; a state file from before direct mode: hub)

    def plan(self) -> LabPlan:
        """The lab's names and addresses (without pods: those are recorded in `node_pods`)."""
        return make_plan(self.name, self.nodes, 0, tuple(self.families), self.router, self.routers, self.controllers)

    def pods_of(self, node: str) -> list[PodState]:
        return self.node_pods.setdefault(node, [])

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabState:
        pods = {node: [PodState(**p) for p in items] for node, items in data.get("node_pods", {}).items()}
        return cls(**{**data, "node_pods": pods})


class StateStore:
    """Reads and atomically rewrites `state.json` of one lab; safe across the threads of one `up`."""

    def __init__(self, name: str, root: Path | None = None) -> None:
        self.name = validate_name(name)
        self.dir = (root or ROOT) / name
        self.path = self.dir / "state.json"
        self.lock = threading.RLock()  # guards the in-memory LabState and the file

    def exists(self) -> bool:
        return self.dir.exists()

    def log(self, process: str) -> Path:
        return self.dir / "logs" / f"{process}.log"

    def tail(self, process: str, lines: int = 15) -> str:
        """The last lines of a process's log (for error messages)."""
        try:
            return "\n".join(self.log(process).read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def node_dir(self, node: str) -> Path:
        return self.dir / "nodes" / node

    def create(self, state: LabState) -> None:
        """Create the directory (mode 0700: it holds tokens) and the first state file."""
        self.dir.mkdir(parents=True, mode=0o700)
        (self.dir / "logs").mkdir()
        self.save(state)

    def load(self) -> LabState | None:
        try:
            return LabState.from_json(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):
            return None  # a torn or foreign file: `down` still cleans by name prefix

    def save(self, state: LabState) -> None:
        with self.lock:
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(json.dumps(state.to_json(), indent=1))  # one write, not one per token as json.dump does
            os.replace(tmp, self.path)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
