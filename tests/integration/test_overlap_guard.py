"""The database is the last line (issue 17 item 8): overlapping live subnets written straight into `nodes`,
bypassing the controller, are refused by the schema on both databases — PostgreSQL's exclusion constraints, SQLite's
triggers (migration 0011b, hubnet.server.db.overlap_guard). 1,000 random overlapping pairs per family and database
(a /23 over a /24 among them; identical, wider, narrower, host bits set, upper-case IPv6, no range columns or lying
ones), in both orders: every second write refused, 0 overlapping live pairs stored. Moving a live row onto another's
subnet and reviving a released row whose subnet is now held are refused too; neighbours and released rows are not."""

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
from tests.integration.conftest import fresh_db
from tests.integration.support import Databases

PAIRS = 1000
INSERT = text(
    "INSERT INTO nodes (name, address, subnet, address6, subnet6, net_lo, net_hi, state, generation, secret_hash, "
    "expires_at, reissued, route_state, created_at, updated_at) VALUES (:name, :address, :subnet, :address6, "
    ":subnet6, :lo, :hi, :state, 1, 'h', 0, false, 'pending', 0, 0)"
)
Network = IPv4Network | IPv6Network


@pytest.fixture
def conn(databases: Databases, db_kind: str) -> Iterator[Connection]:
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

    def insert(self, subnet: str, *, family: int, state: str = "active", lie: bool = False) -> str | None:
        """The new row's name, or None when the database refused it. `lie`: range columns that claim 0.0.0.0/32."""
        n = next(self.n)
        values: dict[str, Any] = {
            "name": f"raw-{n}",
            "state": state,
            "lo": 0 if lie else None,
            "hi": 0 if lie else None,
        }
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
        kept = writer.insert(_spelling(a, rnd), family=family, lie=i % 3 == 0)
        assert kept is not None, f"pair {i}: {a} alone was refused"
        refused = writer.insert(_spelling(b, rnd), family=family, lie=i % 3 == 1) is None
        outcomes["refused" if refused else "stored"] += 1
        writer.delete(kept)
    assert outcomes == {"refused": PAIRS}, outcomes
    assert writer.live(family) == []
    print(f"overlap guard, IPv{family}: {outcomes['refused']}/{PAIRS} overlapping writes refused")


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
