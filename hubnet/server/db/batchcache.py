"""What one write batch already read, kept true across the batch's own writes: the batch's questions asked set-wise.

Why: a registration asked the database ~7 questions of its own (its name, its address, a candidate subnet, the
routers for its answer, the pool's high-water mark), one statement each: most of the writer thread's time, and on
PostgreSQL one round trip each (issue 14). In a batch of 64 registrations the names and addresses are known up
front (`hubnet.server.services.ports.Hints`): one `IN` query each for the whole batch. Candidate subnets come out
of the pool in order, so one query for the block of 64 around the first candidate answers the next ones. The
routers are read once per batch, and the high-water mark is written once (`Repository.flush`).

Only the batch's fast path uses it (`hubnet.server.db.uow`): a batch redone with savepoints runs without it. It
stays true because every write to `nodes` or `routers` goes through `hubnet.server.db.repository.Repository`, which
either updates it (inserting a node, updating one by id or its route state) or empties it (anything else).
Within one transaction nobody else's write is visible anyway on SQLite (BEGIN IMMEDIATE) and, for the rows that
matter, on PostgreSQL (the pool rows are locked first by every writer; the node rows named by the batch are read
`FOR UPDATE`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hubnet.server.domain.records import NodeRecord, RouterRecord

WINDOW_BITS = 6  # a window is the block of 2**6 = 64 candidate subnets around the one asked about
Window = tuple[int, int, int]  # (family, first address, last address)


@dataclass
class BatchCache:
    """Answers for one transaction: node rows by name (with whether they were read locked), live address holders,
    live subnet ranges per window, the routers."""

    nodes: dict[str, tuple[NodeRecord | None, bool]] = field(default_factory=dict)
    names_by_id: dict[int, str] = field(default_factory=dict)
    holders: dict[str, str | None] = field(default_factory=dict)
    windows: dict[Window, list[tuple[int, int]]] = field(default_factory=dict)
    routers: list[RouterRecord] | None = None

    def clear(self) -> None:
        self.nodes.clear()
        self.names_by_id.clear()
        self.holders.clear()
        self.windows.clear()
        self.routers = None

    def keep_node(self, name: str, record: NodeRecord | None, *, locked: bool) -> None:
        self.nodes[name] = (record, locked)
        if record is not None:
            self.names_by_id[record.id] = name

    def node(self, name: str, *, lock: bool) -> tuple[bool, NodeRecord | None]:
        """(known, record): known is False when the database must be asked (never read, or read without the lock
        now wanted)."""
        held = self.nodes.get(name)
        if held is None or (lock and not held[1]):
            return False, None
        return True, held[0]

    def forget_node(self, name: str) -> None:
        """That row changed in a way only its record shows (its route state): it is asked again."""
        record, _ = self.nodes.pop(name, (None, False))
        if record is not None:
            self.names_by_id.pop(record.id, None)

    def reissued(self) -> None:
        """Released rows holding a subnet were marked re-issued: every released record is asked again (live ones,
        holders and windows are untouched: the mark changes no liveness, address or subnet)."""
        for name, (record, _) in list(self.nodes.items()):
            if record is not None and record.state == "released":
                self.forget_node(name)

    def inserted(self, values: dict[str, Any]) -> None:
        """A node row was inserted with `values` (its id unknown; its range columns as the repository computed them
        from the text, None for text that does not parse): its name is asked again, its addresses and ranges are
        now held."""
        self.nodes.pop(str(values["name"]), None)
        live = values.get("state") != "released"
        for column in ("address", "address6"):
            if (text := values.get(column)) is not None:
                if live:
                    self.holders[str(text)] = str(values["name"])
                else:
                    self.holders.pop(str(text), None)
        if not live:
            return
        for family, lo, hi in (
            (4, values.get("net_lo"), values.get("net_hi")),
            (6, values.get("net6_lo"), values.get("net6_hi")),
        ):
            if lo is not None and hi is not None:  # no range: a flagged row, which blocks nothing in the database
                first, last = (int(lo), int(hi)) if family == 4 else (int(str(lo), 16), int(str(hi), 16))
                self._claim(family, first, last)

    def updated(self, node_id: int, values: dict[str, object]) -> None:
        """A node row was updated by id: its record is asked again; holders and windows are dropped when the
        row's addresses, subnets or liveness may have changed."""
        name = self.names_by_id.pop(node_id, None)
        old = self.nodes.pop(name, (None, False))[0] if name is not None else None
        state = values.get("state")
        liveness = "state" in values and (old is None or state == "released" or old.state == "released")
        if liveness or "address" in values or "address6" in values:
            self.holders.clear()
        if liveness or "subnet" in values or "subnet6" in values:
            self.windows.clear()

    def window_of(self, family: int, lo: int, prefixlen: int) -> Window:
        """The aligned block of 2**WINDOW_BITS subnets of this length holding the one at `lo`."""
        bits = 32 if family == 4 else 128
        length = max(prefixlen - WINDOW_BITS, 0)
        host = (1 << (bits - length)) - 1
        return family, lo & ~host, (lo & ~host) | host

    def in_use(self, window: Window, lo: int, hi: int) -> bool | None:
        """Whether a live row overlaps [lo, hi] (inside `window`); None when the window was never read."""
        ranges = self.windows.get(window)
        if ranges is None:
            return None
        return any(a <= hi and b >= lo for a, b in ranges)

    def _claim(self, family: int, lo: int, hi: int) -> None:
        for (fam, first, last), ranges in self.windows.items():
            if fam == family and lo <= last and hi >= first:
                ranges.append((lo, hi))
