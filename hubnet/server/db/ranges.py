"""A node subnet as an integer range [net_lo, net_hi], kept next to its text/inet form.

Why: SQLite has no inet type, so "is any live subnet overlapping this candidate?" becomes an index range query on
integers (hubnet.server.db.repository). Rows written without the range (before migration 0005, by hand, by an older
controller) are filled in by the migration and again at every start-up (`backfill_ranges`).
"""

from __future__ import annotations

from ipaddress import IPv4Network

from sqlalchemy import Connection, bindparam, select, update

from hubnet.server.db.models import nodes
from hubnet.server.db.statements import Statements


def net_range(subnet: str) -> tuple[int, int] | tuple[None, None]:
    """(first, last) address as integers; (None, None) for text that is not an IPv4 network (a flagged row)."""
    try:
        network = IPv4Network(subnet, strict=False)
    except ValueError:
        return None, None
    return int(network.network_address), int(network.broadcast_address)


def supernet_starts(lo: int, prefixlen: int) -> list[int]:
    """The first address of every network strictly containing the /prefixlen at `lo`: where a containing row starts."""
    return sorted({lo & ~((1 << (32 - length)) - 1) & 0xFFFFFFFF for length in range(prefixlen)})


_MISSING = select(nodes.c.id, nodes.c.subnet).where(nodes.c.net_lo.is_(None))
_SET = update(nodes).where(nodes.c.id == bindparam("row_id")).values(net_lo=bindparam("lo"), net_hi=bindparam("hi"))


def backfill_ranges(conn: Connection | Statements) -> int:
    """Fill net_lo/net_hi where missing and parseable; returns the number of rows filled. Idempotent."""
    rows = []
    for row_id, subnet in conn.execute(_MISSING):
        lo, hi = net_range(str(subnet))
        if lo is not None:
            rows.append({"row_id": row_id, "lo": lo, "hi": hi})
    if rows:
        conn.execute(_SET, rows)
    return len(rows)
