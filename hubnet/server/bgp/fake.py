"""An in-memory BGP speaker for unit tests: a table, peers whose sessions a test moves by hand, and a log of calls.

Checked by mypy against `backend.SpeakerPort`; `crash()` plays gobgpd dying, `session()` a peer's FSM moving.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hubnet.net import Network
from hubnet.server.bgp.backend import SpeakerPort
from hubnet.server.bgp.peers import PeerSpec
from hubnet.server.bgp.sessions import PeerStatus
from hubnet.server.domain.routes import Route


class FakeSpeaker:
    def __init__(self) -> None:
        self.table: dict[Network, Route] = {}
        self.configured: list[PeerSpec] = []
        self.states: dict[str, str] = {}  # address → FSM state; absent: "active"
        self.families: dict[str, list[str]] = {}  # address → negotiated families; absent: both
        self.restarting: set[str] = set()  # Established but still held back (GR deferral)
        self.calls: list[str] = []  # "start", "add 3", "set_peers 1", ... in order
        self.fail: dict[Network, str] = {}
        self.alive = False
        self.starts = 0
        self._on_change: Callable[[str, str], None] | None = None

    @property
    def running(self) -> bool:
        return self.alive

    def start(self) -> None:
        self.calls.append("start")
        self.alive, self.table, self.configured = True, {}, []
        self.starts += 1

    def stop(self) -> None:
        self.calls.append("stop")
        self.alive = False

    def crash(self) -> None:
        """gobgpd died: its table and peers are gone (the routers keep our routes under graceful restart)."""
        self.alive, self.table, self.configured = False, {}, []

    def add(self, routes: Sequence[Route]) -> dict[Network, str]:
        self._check()
        self.calls.append(f"add {len(routes)}")
        failed = {r.prefix: self.fail[r.prefix] for r in routes if r.prefix in self.fail}
        self.table.update((r.prefix, r) for r in routes if r.prefix not in failed)
        return failed

    def delete(self, routes: Sequence[Route]) -> dict[Network, str]:
        self._check()
        if routes:
            self.calls.append(f"delete {len(routes)}")
        for route in routes:
            self.table.pop(route.prefix, None)
        return {}

    def paths(self) -> list[Route]:
        self._check()
        return sorted(self.table.values())

    def set_peers(self, peers: Sequence[PeerSpec]) -> None:
        self._check()
        self.calls.append(f"set_peers {len(peers)}")
        self.configured = list(peers)

    def peers(self, *, counters: bool = True) -> list[PeerStatus]:
        self._check()
        out = []
        for spec in self.configured:
            address = str(spec.address)
            state = self.states.get(address, "active")
            up = state == "established"
            sent = len(self.table) if up and counters else 0
            delivering = up and address not in self.restarting
            families = self.families.get(address, ["ipv4-unicast", "ipv6-unicast"]) if up else []
            out.append(
                PeerStatus(address, state, 1.0 if up else None, sent, 0, None, families=families, delivering=delivering)
            )
        return out

    def watch_peers(self, on_change: Callable[[str, str], None]) -> None:
        self._on_change = on_change

    def session(self, address: str, state: str) -> None:
        """A peer's session moved (as gobgpd's watch reports it)."""
        self.states[address] = state
        if self._on_change is not None:
            self._on_change(address, state)

    def _check(self) -> None:
        if not self.alive:
            raise RuntimeError("the BGP speaker is not running")


def _conforms(fake: FakeSpeaker) -> SpeakerPort:  # mypy checks the fake against the port the backend uses
    return fake
