"""The router agent's desired table: what the controllers last said every node's routes are, and the feed revision
that reflects.

Fail static lives here: only a feed answer changes the table. A controller that does not answer, answers an error or
answers something malformed changes nothing, so the reconciler keeps programming (and repairing drift towards) the
last table it knew. Pure state, no I/O; thread-safe (the feed thread writes, the reconcile thread reads).
"""

from __future__ import annotations

import threading

from hubnet.router.feed import FeedEntry, FeedError, RouteFeed
from hubnet.server.domain.routes import DesiredRoute


class DesiredTable:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nodes: dict[str, FeedEntry] = {}
        self._named: dict[str, int] = {}  # node → the revision of the last answer that carried its entry
        self._revision: int | None = None  # None: never loaded (the kernel table must not be touched yet)
        self._full_next = True  # ask for the whole table next (first load, or our revision is ahead of the feed's)
        self._desired: list[DesiredRoute] = []

    @property
    def loaded(self) -> bool:
        """A full table has been read at least once."""
        return self._revision is not None

    @property
    def since(self) -> int:
        """The `since` of the next feed request: 0 (the whole table) until loaded or after the feed went back in
        time, else the revision the table reflects."""
        with self._lock:
            return 0 if self._full_next or self._revision is None else self._revision

    def apply(self, feed: RouteFeed) -> bool:
        """Bring the table in line with one feed answer; True when the revision moved or the routes changed (a
        reconcile is due). A full answer replaces the table; a delta sets each entry's node, dropping a node whose
        entry has no routes. Raises FeedError, changing nothing, for a delta before any full load. A delta whose
        revision is behind ours (the controllers' log went back: a restored database) is not applied; the next
        request asks for the whole table instead."""
        with self._lock:
            if not feed.full and self._revision is None:
                raise FeedError("a delta (full: false) before the whole table was ever read", "full")
            if not feed.full and feed.revision < (self._revision or 0):
                self._full_next = True
                return False
            before, revision = self._nodes, self._revision
            nodes = {} if feed.full else dict(before)
            named = {} if feed.full else dict(self._named)
            for entry in feed.entries:
                if entry.routes:
                    nodes[entry.node], named[entry.node] = entry, feed.revision
                else:
                    nodes.pop(entry.node, None)
                    named.pop(entry.node, None)
            self._revision, self._full_next = feed.revision, False
            if nodes == before and named == self._named:
                return revision != feed.revision
            self._nodes, self._named, self._desired = nodes, named, _desired(nodes, named)
            return True

    def snapshot(self) -> tuple[int, list[DesiredRoute]]:
        """The revision and the desired routes (the reconciler's desired set; one list per change, shared: never
        mutate it). Only called once loaded."""
        with self._lock:
            assert self._revision is not None, "the desired table was never loaded"
            return self._revision, self._desired

    def nodes(self) -> dict[str, FeedEntry]:
        """A copy of the table by node name (status, tests)."""
        with self._lock:
            return dict(self._nodes)


def _desired(nodes: dict[str, FeedEntry], named: dict[str, int]) -> list[DesiredRoute]:
    """One DesiredRoute per route. Every route of a node reports onto one key (the node, its generation, its first
    route's next hop), so a dual-stack node's two routes make one state, as on the controller.

    The key also holds the revision of the answer that last named the node: a node named again gets a new key, so
    the reconciler reports its state again even when it did not change, in a report of at least that revision. The
    controller ignores a state from a table older than the node's last route move (a re-join from another address or
    with another subnet keeps the generation), so without it such a node would wait for the next full report."""
    desired: list[DesiredRoute] = []
    for name, entry in nodes.items():
        key = f"{entry.routes[0].next_hop}@{named[name]}"
        desired.extend(DesiredRoute(name, route, entry.generation, address=key) for route in entry.routes)
    return desired
