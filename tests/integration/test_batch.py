"""Group commit on both databases: one transaction for many use cases, and a failing one undone alone."""

from __future__ import annotations

import threading

import pytest

from server.db.batch import WriteBatcher
from server.db.migrate import upgrade
from server.db.uow import Database, UnitOfWork
from server.domain.errors import InvalidInput
from tests.integration.conftest import fresh_db
from tests.integration.support import Databases


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
        # the 39 queued use cases share one transaction (with the blocker, or right after it)
        assert sizes in ([40], [1, 39])
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
