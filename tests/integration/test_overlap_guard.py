"""The database is the last line (issue 17 item 8): overlapping live subnets written straight into `nodes`,
bypassing the controller, are refused by the schema on both databases — PostgreSQL's exclusion constraints, SQLite's
triggers (migrations 0011b and 0013, hubnet.server.db.overlap_guard). 1,000 random overlapping pairs per family and
database (a /23 over a /24 among them; identical, wider, narrower, host bits set, upper-case IPv6; no range columns,
lying ones or true ones as the controller writes them), in both orders: every second write refused, 0 overlapping
live pairs stored, every stored range the text's. Moving a live row onto another's subnet and reviving a released
row whose subnet is now held are refused too; neighbours and released rows are not."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterator
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, pool, text
from sqlalchemy.exc import IntegrityError

from hubnet.server.db import migrate
from hubnet.server.db.ranges import net6_range, net_range
from tests.integration.conftest import fresh_db
from tests.integration.support import Databases

PAIRS = 1000
RANGES = ("lie", "true", "none")
INSERT = text(
    "INSERT INTO nodes (name, address, subnet, address6, subnet6, net_lo, net_hi, state, generation, secret_hash, "
    "expires_at, reissued, route_state, created_at, updated_at) VALUES (:name, :address, :subnet, :address6, "
    ":subnet6, :lo, :hi, :state, 1, 'h', 0, false, 'pending', 0, 0)"
)
Network = IPv4Network | IPv6Network


@pytest.fixture
def conn(databases: Databases, db_kind: str) -> Iterator[Connection]:
    yield from _connect(databases, db_kind)


@pytest.fixture
def sqlite_conn(databases: Databases) -> Iterator[Connection]:
    """SQLite only: the range columns are what its guard reads (PostgreSQL compares inet values)."""
    yield from _connect(databases, "sqlite")


def _connect(databases: Databases, db_kind: str) -> Iterator[Connection]:
    url = fresh_db(databases, db_kind)
    migrate.upgrade(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        if db_kind == "sqlite":  # thousands of commits: what is tested is the refusal, not the fsync
            connection.exec_driver_sql("PRAGMA synchronous = OFF")
            connection.commit()
        yield connection
    engine.dispose()


class Writer:
    """Raw writes, each in its own transaction, as a tool outside the controller would do them."""

    def __init__(self, conn: Connection) -> None:
        self.conn, self.n = conn, itertools.count(1)

    def insert(
        self, subnet: str, *, family: int, state: str = "active", ranges: str = "none", lo: Any = 0, hi: Any = 0
    ) -> str | None:
        """The new row's name, or None when the database refused it. `ranges`: "none" (no range columns), "true"
        (the IPv4 range of the text, as the controller writes them) or "lie" (`lo`, `hi`)."""
        n = next(self.n)
        if ranges == "true":
            lo, hi = net_range(subnet) if family == 4 else (None, None)
        elif ranges == "none":
            lo, hi = None, None
        values: dict[str, Any] = {"name": f"raw-{n}", "state": state, "lo": lo, "hi": hi}
        values |= {"address": f"172.{16 + n // 65536}.{n // 256 % 256}.{n % 256}", "subnet": None}
        values |= {"address6": None, "subnet6": None}
        values["subnet" if family == 4 else "subnet6"] = subnet
        return values["name"] if self.run(INSERT, values) else None

    def run(self, statement: Any, values: dict[str, Any]) -> bool:
        try:
            with self.conn.begin():
                self.conn.execute(statement, values)
        except IntegrityError:
            return False
        return True

    def delete(self, name: str) -> None:
        self.run(text("DELETE FROM nodes WHERE name = :n"), {"n": name})

    def ranges(self, name: str) -> tuple[Any, ...]:
        """(subnet, net_lo, net_hi, subnet6, net6_lo, net6_hi) as stored."""
        query = text("SELECT subnet, net_lo, net_hi, subnet6, net6_lo, net6_hi FROM nodes WHERE name = :n")
        with self.conn.begin():
            return tuple(self.conn.execute(query, {"n": name}).one())

    def live(self, family: int) -> list[Network]:
        column = "subnet" if family == 4 else "subnet6"
        query = text(f"SELECT {column} FROM nodes WHERE state <> 'released' AND {column} IS NOT NULL")
        with self.conn.begin():
            return [ip_network(str(s), strict=False) for (s,) in self.conn.execute(query)]


def _spelling(net: Network, rnd: random.Random) -> str:
    """How a writer might spell it: canonical, with host bits set, or (IPv6) upper-case and fully written out."""
    form = rnd.randrange(3)
    if form == 1 and net.num_addresses > 1:
        return f"{net.network_address + rnd.randrange(1, net.num_addresses)}/{net.prefixlen}"
    if form == 2 and net.version == 6:
        return f"{net.network_address.exploded.upper()}/{net.prefixlen}"
    return str(net)


def _overlapping_pair(family: int, rnd: random.Random) -> tuple[Network, Network]:
    """A random network and one overlapping it: the same, a wider one holding it, or a narrower one inside it."""
    bits = 32 if family == 4 else 128
    base = IPv4Network("10.0.0.0/8") if family == 4 else IPv6Network("fd00::/16")
    length = rnd.randint(base.prefixlen + 2, bits - 2)
    first = ip_network(
        (
            int(base.network_address) + (rnd.getrandbits(bits - base.prefixlen) >> (bits - length) << (bits - length)),
            length,
        )
    )
    kind = rnd.choice(["same", "wider", "narrower"])
    if kind == "wider":
        return first, first.supernet(new_prefix=rnd.randint(base.prefixlen, length - 1))
    if kind == "narrower":
        new = rnd.randint(length + 1, bits)
        return first, rnd.choice(list(itertools.islice(first.subnets(new_prefix=new), 64)))
    return first, first


@pytest.mark.parametrize("family", [4, 6])
def test_overlapping_live_subnets_are_refused_by_the_schema(conn: Connection, family: int) -> None:
    writer, rnd = Writer(conn), random.Random(17 + family)
    outcomes: Counter[str] = Counter()
    pairs = [_overlapping_pair(family, rnd) for _ in range(PAIRS)]
    if family == 4:  # the case that slipped past a text-equality check once: a live /23 over a live /24
        pairs[0] = (IPv4Network("10.244.1.0/24"), IPv4Network("10.244.0.0/23"))
    for i, (first, second) in enumerate(pairs):
        a, b = (first, second) if i % 2 == 0 else (second, first)
        kept = writer.insert(_spelling(a, rnd), family=family, ranges=RANGES[i % 3])
        assert kept is not None, f"pair {i}: {a} alone was refused"
        _assert_true_ranges(writer, kept, conn)
        refused = writer.insert(_spelling(b, rnd), family=family, ranges=RANGES[(i // 3) % 3]) is None
        outcomes["refused" if refused else "stored"] += 1
        writer.delete(kept)
    assert outcomes == {"refused": PAIRS}, outcomes
    assert writer.live(family) == []
    print(f"overlap guard, IPv{family}: {outcomes['refused']}/{PAIRS} overlapping writes refused")


def _assert_true_ranges(writer: Writer, name: str, conn: Connection) -> None:
    """Whatever the writer put in the range columns, the stored ones are the text's (SQLite keeps them)."""
    if conn.dialect.name != "sqlite":
        return
    subnet, lo, hi, subnet6, lo6, hi6 = writer.ranges(name)
    assert (lo, hi) == (net_range(subnet) if subnet else (None, None)), (subnet, lo, hi)
    assert (lo6, hi6) == (net6_range(subnet6) if subnet6 else (None, None)), (subnet6, lo6, hi6)


@pytest.mark.parametrize(
    ("subnet", "lo", "hi"),
    [
        ("10.244.1.0/24", 0x0AF40200, 0x0AF402FF),  # another /24's range
        ("10.244.0.0/24", 0x0AF40000, 0x0AF401FF),  # the right start, a /23's end
        ("10.244.0.0/23", 0x0AF40000, 0x0AF400FF),  # a /24's range under a /23
        ("10.244.1.0/24", 0x0AF40100 + (1 << 32), 0x0AF401FF + (1 << 32)),  # the right octets, 2^32 higher
        ("10.244.1.0/24", "167772416", "167772671"),  # numbers as text
        ("10.244.1.0/24", 0x0AF40100 + 0.5, 0x0AF401FF),  # not an integer
        ("10.244.1.7/24", 0x0AF40100, 0x0AF401FF),  # host bits in the text
        ("10.244.1.0", 0x0AF40100, 0x0AF40100),  # no prefix length: a host route
    ],
)
def test_supplied_ranges_are_checked_not_trusted(sqlite_conn: Connection, subnet: str, lo: Any, hi: Any) -> None:
    """Range columns that are close to the text's but not its are recomputed (and a row they would have hidden is
    still refused): only the exact canonical pair is taken as written (migration 0013)."""
    conn = sqlite_conn
    writer = Writer(conn)
    held = writer.insert(str(IPv4Network(subnet, strict=False).supernet()), family=4, ranges="true")
    assert held is not None
    assert writer.insert(subnet, family=4, ranges="lie", lo=lo, hi=hi) is None  # inside the held supernet
    writer.delete(held)
    name = writer.insert(subnet, family=4, ranges="lie", lo=lo, hi=hi)
    assert name is not None
    _assert_true_ranges(writer, name, conn)


@pytest.mark.parametrize("family", [4, 6])
def test_moves_and_revivals_are_refused_neighbours_are_not(conn: Connection, family: int) -> None:
    writer = Writer(conn)
    column = "subnet" if family == 4 else "subnet6"
    nets = (
        ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/23"]
        if family == 4
        else ["fd00:10:244::/64", "fd00:10:244:0:8000::/65", "fd00:10:244:1::/64"]
    )
    a = writer.insert(nets[0], family=family)
    b = writer.insert(nets[2], family=family)  # a neighbour: stored
    assert a is not None and b is not None
    released = writer.insert(nets[0], family=family, state="released")  # released rows hold nothing
    assert released is not None
    move = text(f"UPDATE nodes SET {column} = :s WHERE name = :n")
    assert not writer.run(move, {"s": nets[1] if family == 6 else "10.244.0.0/22", "n": b})  # onto a's subnet
    revive = text("UPDATE nodes SET state = 'active' WHERE name = :n")
    assert not writer.run(revive, {"n": released})  # its subnet is a's now
    writer.delete(a)
    assert writer.run(revive, {"n": released})  # free again: it may come back
    live = writer.live(family)
    assert not [(x, y) for x, y in itertools.combinations(live, 2) if x.overlaps(y)], live
