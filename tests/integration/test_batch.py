"""Group commit on both databases: one transaction for many use cases, and a failing one undone alone."""

from __future__ import annotations

import threading
import time
from ipaddress import IPv4Network

import pytest

from hubnet.server.db.batch import WriteBatcher
from hubnet.server.db.migrate import upgrade
from hubnet.server.db.uow import Database, UnitOfWork
from hubnet.server.domain.errors import InvalidInput
from hubnet.server.services import nodes, pools
from hubnet.server.services.context import Controller, CountingMetrics
from hubnet.server.settings import Settings
from tests.integration.conftest import fresh_db
from tests.integration.support import Databases, new_secret


def _add(cidr: str, *, fail_after_write: bool = False, fail_before_write: bool = False) -> object:
    def job(uow: UnitOfWork) -> str:
        if fail_before_write:
            raise InvalidInput("refused before writing", field="cidr")
        uow.repo.add_pool(cidr=cidr, node_prefix=24, now=uow.now)
        uow.emit("pool.added", None, cidr=cidr)
        if fail_after_write:
            raise InvalidInput("refused after writing", field="cidr")
        return cidr

    return job


def test_failing_jobs_are_undone_alone(databases: Databases, db_kind: str) -> None:
    url = fresh_db(databases, db_kind)
    upgrade(url)
    db = Database(url)
    try:
        jobs = [
            _add("10.1.0.0/16"),
            _add("10.2.0.0/16", fail_after_write=True),  # forces the savepoint re-run
            _add("10.3.0.0/16", fail_before_write=True),
            _add("10.4.0.0/16"),
        ]
        outcomes = db.write_batch(jobs)  # type: ignore[arg-type]
        assert [ok for ok, _ in outcomes] == [True, False, False, True]
        assert all(isinstance(v, InvalidInput) for ok, v in outcomes if not ok)
        with db.read() as uow:
            assert [p.cidr for p in uow.repo.pools()] == ["10.1.0.0/16", "10.4.0.0/16"]
            events = uow.repo.events_since(0, 10)
        assert [(e.revision, e.data) for e in events] == [
            (1, '{"cidr": "10.1.0.0/16"}'),
            (2, '{"cidr": "10.4.0.0/16"}'),
        ]
    finally:
        db.dispose()


def test_concurrent_callers_share_batches(databases: Databases, db_kind: str) -> None:
    url = fresh_db(databases, db_kind)
    upgrade(url)
    db = Database(url)
    sizes: list[int] = []
    real = db.write_batch

    def counting(jobs: list) -> list:  # type: ignore[type-arg]
        sizes.append(len(jobs))
        return real(jobs)

    db.write_batch = counting  # type: ignore[method-assign]
    writer = WriteBatcher(db)
    release = threading.Event()

    def blocker(uow: UnitOfWork) -> str:
        release.wait(timeout=30)  # holds the writer while the others queue up
        return "first"

    try:
        futures = [writer.submit(blocker)]
        futures += [writer.submit(_add(f"10.{i}.0.0/16")) for i in range(1, 40)]  # type: ignore[arg-type]
        release.set()
        results = [f.result(timeout=60) for f in futures]
        assert results == ["first"] + [f"10.{i}.0.0/16" for i in range(1, 40)]
        # everything queued behind the blocker shares one transaction: the writer may have taken the blocker with
        # none, some or all of the others (submitted while it starts), and the rest go in the next batch
        assert sum(sizes) == 40 and len(sizes) <= 2, sizes
        with db.read() as uow:
            assert len(uow.repo.pools()) == 39
            assert [e.revision for e in uow.repo.events_since(0, 100)] == list(range(1, 40))
    finally:
        writer.stop()
        db.dispose()


@pytest.mark.parametrize("kind", ["sqlite"])
def test_stop_is_clean(databases: Databases, kind: str) -> None:
    url = fresh_db(databases, kind)
    upgrade(url)
    db = Database(url)
    writer = WriteBatcher(db)
    assert writer.run(_add("10.9.0.0/16")) == "10.9.0.0/16"  # type: ignore[arg-type]
    writer.stop()
    assert not any(t.name == "hubnet-writer" and t.is_alive() for t in threading.enumerate())
    db.dispose()


def _boom(*, after_write: bool) -> object:
    def job(uow: UnitOfWork) -> str:
        if after_write:
            uow.repo.add_pool(cidr="10.77.0.0/16", node_prefix=24, now=uow.now)
        raise RuntimeError("a bug in one use case")

    return job


@pytest.mark.parametrize("after_write", [False, True], ids=["before-write", "after-write"])
def test_unexpected_exception_fails_only_its_own_job(databases: Databases, db_kind: str, after_write: bool) -> None:
    url = fresh_db(databases, db_kind)
    upgrade(url)
    db = Database(url)
    try:
        jobs = [_add("10.1.0.0/16"), _boom(after_write=after_write), _add("10.2.0.0/16")]
        outcomes = db.write_batch(jobs)  # type: ignore[arg-type]
        assert [ok for ok, _ in outcomes] == [True, False, True]
        assert isinstance(outcomes[1][1], RuntimeError)
        with db.read() as uow:
            assert [p.cidr for p in uow.repo.pools()] == ["10.1.0.0/16", "10.2.0.0/16"]
            assert [e.revision for e in uow.repo.events_since(0, 10)] == [1, 2]
    finally:
        db.dispose()


def test_allocation_metric_counts_committed_registrations_once(databases: Databases, db_kind: str) -> None:
    """A batch redone with savepoints runs every job twice; the metric must still count each allocation once."""
    url = fresh_db(databases, db_kind)
    upgrade(url)
    metrics = CountingMetrics()
    settings = Settings(database_url=url, cluster_cidr=IPv4Network("10.244.0.0/16"), bootstrap_tokens=("boot",))
    ctl = Controller(db=Database(url), settings=settings, metrics=metrics)
    try:
        pools.ensure_pool(ctl, cidr=settings.cluster_cidr, node_prefix=24)

        def register(i: int) -> object:
            return nodes.register_job(
                ctl, token="boot", name=f"m{i}", address=f"192.168.7.{i}", secret=new_secret(), machine_id=None
            )

        jobs = [register(1), _add("10.1.0.0/16", fail_after_write=True), register(2)]  # the 2nd forces a redo
        outcomes = ctl.db.write_batch(jobs)  # type: ignore[arg-type]
        assert [ok for ok, _ in outcomes] == [True, False, True]
        assert metrics.allocations == 2
    finally:
        ctl.close()


def test_batch_reads_the_clock_after_the_lock(databases: Databases, db_kind: str) -> None:
    """A batch that waited for another writer stamps its rows with the time it got the lock, not an older one."""
    url = fresh_db(databases, db_kind)
    upgrade(url)
    clock = [1000.0]
    db = Database(url, clock=lambda: clock[0])
    other = Database(url)
    try:
        db.write_batch([_add("10.1.0.0/16")])  # type: ignore[list-item]
        seen: list[float] = []
        with other.engines.writer.connect() as conn:
            # another controller process holds the write lock (PostgreSQL: the pool rows; SQLite: the file)
            conn.begin()  # SQLite: the writer engine begins with BEGIN IMMEDIATE
            if db_kind != "sqlite":
                conn.exec_driver_sql("SELECT id FROM pools FOR UPDATE").all()
            batch = threading.Thread(target=lambda: db.write_batch([lambda uow: seen.append(uow.now)]))
            batch.start()
            time.sleep(0.5)  # the batch is waiting for the lock ...
            clock[0] = 2000.0  # ... while time passes
            conn.rollback()
            batch.join(timeout=30)
        assert seen == [2000.0]
    finally:
        other.dispose()
        db.dispose()
