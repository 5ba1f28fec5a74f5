"""Keeps this controller's BGP speaker peered with the peers stored in the database.

Every controller process runs its own speaker, so each one follows the table: at once after a commit of its own
that changed peers (`wake`), and every `interval` seconds for changes another process committed. The backend holds
the peers back until the speaker has the complete route table (docs/bgp.md, start order).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from hubnet.loop import Backoff, Cause, SupervisedLoop
from hubnet.server.bgp.peers import PeerSpec

log = logging.getLogger("hubnet.bgp")


class PeerTarget(Protocol):
    def set_peers(self, peers: Sequence[PeerSpec]) -> None: ...


class PeerSync:
    """Loads the stored peers and hands them to the backend; a failed load or apply is retried with backoff."""

    def __init__(self, target: PeerTarget, load: Callable[[], list[PeerSpec]], interval: float = 10.0) -> None:
        self.target, self.load = target, load
        self._loop = SupervisedLoop(
            "hubnet-bgp-peers",
            self._step,
            interval=interval,
            log=log,
            what="BGP peer sync",
            backoff=Backoff(first=0.2, cap=interval),
        )

    def start(self) -> None:
        self._loop.start()

    def wake(self) -> None:
        self._loop.wake()

    def stop(self) -> None:
        self._loop.stop()

    def sync_now(self) -> None:
        self.target.set_peers(self.load())

    def _step(self, _cause: Cause) -> None:
        self.sync_now()
