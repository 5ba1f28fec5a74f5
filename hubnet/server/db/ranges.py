"""A node subnet as a range [lo, hi], kept next to its text/inet form, per family.

Why: SQLite has no inet type, so "is any live subnet overlapping this candidate?" becomes an index range query
(hubnet.server.db.repository): on integers for IPv4 (net_lo/net_hi), on 32-digit lowercase hex text for IPv6
(net6_lo/net6_hi; SQLite has no 128-bit integer, and fixed-width hex compares like the number it spells). Rows
written without the range (before migrations 0005/0009, by hand, by an older controller) are filled in by the
migration and again at every start-up (`backfill_ranges`).
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from sqlalchemy import Connection, Select, Update, bindparam, select, update

from hubnet.net import split_ipv4
from hubnet.server.db.models import nodes
from hubnet.server.db.statements import Statements


def hex128(value: int) -> str:
    """An IPv6 address as the fixed-width text stored in net6_lo/net6_hi."""
    return f"{value:032x}"


def net_range(subnet: str) -> tuple[int, int] | tuple[None, None]:
    """(first, last) address as integers; (None, None) for text that is not an IPv4 network (a flagged row)."""
    if (split := split_ipv4(subnet)) is not None:
        host = (1 << (32 - split[1])) - 1
        return split[0] & ~host, (split[0] & ~host) | host
    try:
        network = IPv4Network(subnet, strict=False)
    except ValueError:
        return None, None
    return int(network.network_address), int(network.broadcast_address)


def net6_range(subnet: str) -> tuple[str, str] | tuple[None, None]:
    """(first, last) address as 32-digit hex; (None, None) for text that is not an IPv6 network (a flagged row)."""
    try:
        network = IPv6Network(subnet, strict=False)
    except ValueError:
        return None, None
    return hex128(int(network.network_address)), hex128(int(network.broadcast_address))


def supernet_starts(lo: int, prefixlen: int, bits: int = 32) -> list[int]:
    """The first address of every network strictly containing the /prefixlen at `lo`: where a containing row starts."""
    full = (1 << bits) - 1
    return sorted({lo & ~((1 << (bits - length)) - 1) & full for length in range(prefixlen)})


_MISSING = select(nodes.c.id, nodes.c.subnet).where(nodes.c.net_lo.is_(None), nodes.c.subnet.is_not(None))
_SET = update(nodes).where(nodes.c.id == bindparam("row_id")).values(net_lo=bindparam("lo"), net_hi=bindparam("hi"))
_MISSING6 = select(nodes.c.id, nodes.c.subnet6).where(nodes.c.net6_lo.is_(None), nodes.c.subnet6.is_not(None))
_SET6 = update(nodes).where(nodes.c.id == bindparam("row_id")).values(net6_lo=bindparam("lo"), net6_hi=bindparam("hi"))


def backfill_ranges(conn: Connection | Statements) -> int:
    """Fill net_lo/net_hi where missing and parseable; returns the number of rows filled. Idempotent. IPv4 only:
    migration 0005 runs it on a table without the IPv6 columns."""
    return _backfill(conn, _MISSING, _SET, net_range)


def backfill_all(conn: Connection | Statements) -> int:
    """`backfill_ranges` for both families (net6_lo/net6_hi too); the schema must be at 0009 or later."""
    return backfill_ranges(conn) + _backfill(conn, _MISSING6, _SET6, net6_range)


def _backfill(
    conn: Connection | Statements,
    missing: Select[Any],
    setter: Update,
    parse: Callable[[str], tuple[object, object]],
) -> int:
    rows = []
    for row_id, subnet in conn.execute(missing):
        lo, hi = parse(str(subnet))
        if lo is not None:
            rows.append({"row_id": row_id, "lo": lo, "hi": hi})
    if rows:
        conn.execute(setter, rows)
    return len(rows)
