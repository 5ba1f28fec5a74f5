"""A write batch asks its questions set-wise (hubnet.server.db.batchcache): the same jobs must end exactly as they
would one by one. Differential, on both databases: random rounds of registrations (names and underlay addresses
drawn from small sets, so twins, re-joins, address clashes and reclaims happen), heartbeats, deletes and hand
writes between them, each round run as ONE batch on one database and as savepoint-per-job (no cache) on another;
every outcome, every row, every pool's high-water mark and every event must agree."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from ipaddress import IPv4Network
from typing import Any

import pytest
from sqlalchemy import text

from hubnet.server.db.migrate import upgrade
from hubnet.server.db.repository import _NODE, _NODE_LOCKED, Repository
from hubnet.server.db.statements import Statements
from hubnet.server.db.uow import Database, UnitOfWork
from hubnet.server.services import nodes, pools
from hubnet.server.services.context import Controller
from hubnet.server.settings import Settings
from tests.integration.conftest import fresh_db
from tests.integration.support import Databases

ROUNDS = 20
JOBS = 40
NAMES = [f"bc-{i}" for i in range(14)]
ADDRESSES = [f"192.168.40.{i}" for i in range(1, 12)]
SECRETS = ["a" * 43, "b" * 43]
ROW_COLUMNS = "name, state, subnet, address, generation, reissued, expires_at, released_at, route_state"
Job = Callable[[UnitOfWork], Any]


class Side:
    """One database and a controller over it, on a clock the test sets."""

    def __init__(self, url: str) -> None:
        upgrade(url)
        self.now = 1000.0
        settings = Settings(
            database_url=url,
            cluster_cidr=IPv4Network("10.244.0.0/20"),  # 16 subnets for 14 names: the pool fills, reclaims happen
            bootstrap_tokens=("boot",),
            admin_tokens=("admin",),
        )
        self.ctl = Controller(db=Database(url, clock=lambda: self.now), settings=settings)
        pools.ensure_pool(self.ctl, cidr=settings.cluster_cidr, node_prefix=24)
        self.redone = 0
        real = self.ctl.db._batch  # type: ignore[attr-defined]

        def counting(jobs: list[Job], *, savepoints: bool) -> Any:
            self.redone += savepoints
            return real(jobs, savepoints=savepoints)

        self.ctl.db._batch = counting  # type: ignore[attr-defined]

    def state(self) -> tuple[Any, ...]:
        def read(uow: UnitOfWork) -> tuple[Any, ...]:
            sql = uow.repo.sql  # type: ignore[attr-defined]
            rows = [tuple(r) for r in sql.execute(text(f"SELECT {ROW_COLUMNS} FROM nodes ORDER BY name"))]
            marks = [tuple(r) for r in sql.execute(text("SELECT cidr, high_water, allocated FROM pools ORDER BY id"))]
            events = [tuple(r) for r in sql.execute(text("SELECT revision, type, node, data FROM events ORDER BY 1"))]
            return rows, marks, events

        return self.ctl.read(read)


def _outcome(ok: bool, value: Any) -> Any:
    if not ok:
        return type(value).__name__, getattr(value, "field", None)
    if isinstance(value, tuple):  # a registration: (node, new)
        node, new = value
        return node.name, node.subnet, node.address, node.state, node.generation, new
    return None if value is None else getattr(value, "name", value)


def _hand_write(name: str, address: str, subnet: str) -> Job:
    """A row written by another tool inside the batch (a statement the cache does not follow)."""

    def job(uow: UnitOfWork) -> None:
        sql = uow.repo.sql  # type: ignore[attr-defined]
        if sql.execute(text("SELECT 1 FROM nodes WHERE subnet = :s AND state <> 'released'"), {"s": subnet}).first():
            return  # held: the schema would refuse it (and the batch would be redone without the cache)
        sql.execute(
            text(
                "INSERT INTO nodes (name, address, subnet, state, generation, secret_hash, expires_at, reissued, "
                "route_state, created_at, updated_at) VALUES (:n, :a, :s, 'active', 1, 'h', 9e9, false, "
                "'pending', 0, 0)"
            ),
            {"n": name, "a": address, "s": subnet},
        )

    return job


def _round(ctl: Controller, rnd: random.Random, round_no: int) -> list[Job]:
    jobs: list[Job] = []
    for i in range(JOBS):
        name, address = rnd.choice(NAMES), rnd.choice(ADDRESSES)
        roll = rnd.random()
        if roll < 0.6:
            secret = SECRETS[rnd.random() < 0.15]
            jobs.append(
                nodes.register_job(ctl, token="boot", name=name, address=address, secret=secret, machine_id=None)
            )
        elif roll < 0.75:
            jobs.append(nodes.heartbeat_job(ctl, token="admin", name=name))
        elif roll < 0.97:
            jobs.append(nodes.delete_job(ctl, token="admin", name=name))
        else:
            subnet = f"10.244.{rnd.randrange(16)}.0/24"
            jobs.append(_hand_write(f"hand-{round_no}-{i}", f"172.30.{round_no}.{i}", subnet))
    return jobs


@pytest.fixture
def sides(databases: Databases, db_kind: str) -> Iterator[tuple[Side, Side]]:
    cached, reference = Side(fresh_db(databases, db_kind)), Side(fresh_db(databases, db_kind))
    yield cached, reference
    cached.ctl.close()
    reference.ctl.close()


def test_a_batch_ends_as_its_jobs_one_by_one(sides: tuple[Side, Side]) -> None:
    cached, reference = sides
    rnd = random.Random(4242)
    for round_no in range(ROUNDS):
        seed = rnd.randrange(1 << 30)
        cached.now = reference.now = 1000.0 + 100 * round_no
        got = cached.ctl.db.write_batch(_round(cached.ctl, random.Random(seed), round_no))
        want = reference.ctl.db._batch(_round(reference.ctl, random.Random(seed), round_no), savepoints=True)  # type: ignore[attr-defined]
        assert [_outcome(*o) for o in got] == [_outcome(*o) for o in want], f"round {round_no}"
        assert cached.state() == reference.state(), f"round {round_no}"
    assert cached.redone == 0  # ... and every round ran on the cached fast path


def _register(ctl: Controller, name: str, address: str, secret: str = SECRETS[0]) -> Job:
    return nodes.register_job(ctl, token="boot", name=name, address=address, secret=secret, machine_id=None)


def _subnets(outcomes: list[tuple[bool, Any]]) -> list[Any]:
    """Per job: the registration's subnet, the error's name, or None (a job that answers nothing)."""
    found = [_outcome(ok, value) for ok, value in outcomes]
    return [None if o is None else o[1] if ok else o[0] for (ok, _), o in zip(outcomes, found, strict=True)]


def test_sequences_inside_one_batch(sides: tuple[Side, Side]) -> None:
    """What one job of a batch wrote, the next sees through the cache: an address just taken, an address just
    freed, a subnet just released and reclaimed, a row written by hand before and during the batch."""
    side, _ = sides
    ctl = side.ctl
    # 10.244.1.0/24 held by hand before the batch: inside the window the allocator reads
    side.ctl.db.write_batch([_hand_write("hand-0", "172.30.9.1", "10.244.1.0/24")])
    got = ctl.db.write_batch(
        [
            _register(ctl, "s-1", "192.168.41.1"),  # 10.244.0.0/24
            _register(ctl, "s-2", "192.168.41.1"),  # the address s-1 just took
            _register(ctl, "s-3", "192.168.41.3"),  # skips the hand-written /24: 10.244.2.0/24
            nodes.delete_job(ctl, token="admin", name="s-1"),  # frees 192.168.41.1 and 10.244.0.0/24
            _register(ctl, "s-4", "192.168.41.1"),  # the freed address: 10.244.3.0/24 (quarantine: no reuse yet)
            _register(ctl, "s-1", "192.168.41.5"),  # s-1 reclaims its released 10.244.0.0/24
            _hand_write("hand-1", "172.30.9.2", "10.244.4.0/24"),  # during the batch, where s-5 would go
            _register(ctl, "s-5", "192.168.41.6"),  # 10.244.5.0/24
        ]
    )
    assert _subnets(got) == [
        "10.244.0.0/24",
        "AddressTaken",
        "10.244.2.0/24",
        None,
        "10.244.3.0/24",
        "10.244.0.0/24",
        None,
        "10.244.5.0/24",
    ]
    assert side.redone == 0


def test_a_deferred_row_the_database_refuses_is_undone_alone(sides: tuple[Side, Side]) -> None:
    """Node rows are written at the end of the batch; if the database refuses one there (another process took its
    address meanwhile: simulated by a cache that wrongly believes the address free), the batch is redone one
    savepoint per job and only that registration fails."""
    side, _ = sides
    ctl = side.ctl

    def mislead(uow: UnitOfWork) -> None:
        cache = uow.repo.cache  # type: ignore[attr-defined]
        if cache is not None:  # the redo runs without it
            cache.holders["192.168.42.1"] = None

    got = ctl.db.write_batch([_register(ctl, "d-1", "192.168.42.1"), mislead, _register(ctl, "d-2", "192.168.42.1")])
    assert _subnets(got) == ["10.244.0.0/24", None, "AddressTaken"]
    assert side.redone == 1
    assert [row[0] for row in side.state()[0]] == ["d-1"]


def test_a_full_pool_hands_out_released_subnets_without_losing_the_cache(
    sides: tuple[Side, Side], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every never-used subnet gone, each registration takes the longest-released one: the batch asks about
    that one subnet alone (no window of 64 read and parsed) and keeps its answers across the re-issue mark (no row
    asked again one by one) — and the outcomes are the one-by-one ones: each released subnet once, oldest first, and
    a released node whose subnet went to another in the same batch is refused."""
    side, reference = sides
    for s in (side, reference):
        s.ctl.db.write_batch([_register(s.ctl, f"f-{i}", f"192.168.42.{i + 1}") for i in range(16)])  # full
        s.now += 1
        s.ctl.db.write_batch([nodes.delete_job(s.ctl, token="admin", name=f"f-{i}") for i in range(8)])
        s.now += 1
    windows, lookups = [], []
    live_ranges = Repository._live_ranges
    execute = Statements.execute

    def counted_ranges(repo: Repository, window: Any) -> Any:
        windows.append(window)
        return live_ranges(repo, window)

    def counted_execute(sql: Statements, statement: Any, params: Any = None) -> Any:
        if statement is _NODE or statement is _NODE_LOCKED:
            lookups.append(params)
        return execute(sql, statement, params)

    jobs = [_register(side.ctl, f"g-{i}", f"192.168.43.{i + 1}") for i in range(8)]
    jobs.append(_register(side.ctl, "f-0", "192.168.42.1"))  # its 10.244.0.0/24 went to g-0 just before
    with monkeypatch.context() as patch:
        patch.setattr(Repository, "_live_ranges", counted_ranges)
        patch.setattr(Statements, "execute", counted_execute)
        got = side.ctl.db.write_batch(jobs)
    assert windows == []
    assert lookups == [{"name": "f-0"}]  # only the released record the marks may have changed is asked again
    assert _subnets(got) == [f"10.244.{i}.0/24" for i in range(8)] + ["SubnetReissued"]
    assert side.redone == 0
    want = reference.ctl.db._batch(  # type: ignore[attr-defined]
        [_register(reference.ctl, f"g-{i}", f"192.168.43.{i + 1}") for i in range(8)]
        + [_register(reference.ctl, "f-0", "192.168.42.1")],
        savepoints=True,
    )
    assert [_outcome(*o) for o in got] == [_outcome(*o) for o in want]
    assert side.state() == reference.state()
