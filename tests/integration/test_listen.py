"""Commits of other controller processes (PostgreSQL LISTEN/NOTIFY, hubnet.server.db.listen): a commit that
appended events reaches a listener within a second, a listener whose connection is killed reconnects and catches up,
and the remote commit runs the same hooks a local one does (with the kinds committed)."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import Any

import pytest

from hubnet.server.api.events import Notifier
from hubnet.server.app import build_listener
from hubnet.server.db.listen import CommitListener, libpq_url
from hubnet.server.db.migrate import upgrade
from hubnet.server.db.uow import Database, UnitOfWork
from hubnet.server.services.changes import RemoteCommits
from hubnet.server.services.context import Controller
from hubnet.server.services.ports import Commit
from hubnet.server.settings import Settings
from tests.integration.conftest import fresh_db
from tests.integration.support import Databases, sql

pytestmark = pytest.mark.postgres


def _emit(kind: str) -> Any:
    def job(uow: UnitOfWork) -> None:
        uow.emit(kind, None)

    return job


@pytest.fixture
def ctl(databases: Databases) -> Iterator[Controller]:
    url = fresh_db(databases, "postgres")
    upgrade(url)
    controller = Controller(db=Database(url), settings=Settings(database_url=url))
    yield controller
    controller.close()


def _settings_url(ctl: Controller) -> str:
    return ctl.settings.db_url


def test_a_commit_reaches_the_listener_within_a_second(ctl: Controller) -> None:
    got: queue.Queue[int | None] = queue.Queue()
    connects: list[float] = []
    listener = CommitListener(
        _settings_url(ctl), on_commit=got.put, on_connect=lambda: connects.append(time.monotonic()), poll=0.2
    )
    listener.start()
    try:
        assert listener.connected.wait(10)
        started = time.monotonic()
        assert ctl.db.write_batch([_emit("test.one"), _emit("test.two")]) == [(True, None), (True, None)]
        revision = got.get(timeout=1)
        assert time.monotonic() - started < 1
        assert revision == ctl.read(lambda uow: uow.repo.revision())
        ctl.db.write_batch([lambda uow: None])  # no event, no notification
        with pytest.raises(queue.Empty):
            got.get(timeout=0.5)

        # the connection dies (a PostgreSQL restart, a proxy): the listener reconnects and says so (catch up)
        killed = sql(
            ctl.settings.db_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        assert killed == [(True,)]
        deadline = time.monotonic() + 15
        while len(connects) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(connects) == 2
        assert listener.connected.wait(5)
        ctl.db.write_batch([_emit("test.three")])
        assert got.get(timeout=1) == ctl.read(lambda uow: uow.repo.revision())
    finally:
        listener.stop()
    assert not listener.connected.is_set()


def test_a_listener_skips_its_own_process_commits(ctl: Controller) -> None:
    """The local after-commit hooks already ran for this process's commits: its own listener must not run them
    again (every registration would be reconciled twice), while another process's commits still arrive."""
    got: queue.Queue[int | None] = queue.Queue()
    listener = CommitListener(_settings_url(ctl), on_commit=got.put, poll=0.2, origin=ctl.db.origin)
    other = Database(ctl.settings.db_url)  # another controller process's database handle: another origin
    listener.start()
    try:
        assert listener.connected.wait(10)
        ctl.db.write_batch([_emit("test.mine")])
        with pytest.raises(queue.Empty):
            got.get(timeout=0.7)
        other.write_batch([_emit("test.theirs")])
        assert got.get(timeout=2) == ctl.read(lambda uow: uow.repo.revision())
    finally:
        listener.stop()
        other.dispose()


def test_a_remote_commit_runs_the_hooks_with_its_kinds(ctl: Controller) -> None:
    seen: list[Commit] = []
    woken: list[bool] = []
    remote = RemoteCommits(ctl, [seen.append], wake=lambda: woken.append(True), assume={"node.registered"})
    remote.catch_up()  # the first call learns where the log is
    assert seen == [] and woken == [True]
    ctl.db.write_batch([_emit("node.released"), _emit("bgp_peers")])
    revision = ctl.read(lambda uow: uow.repo.revision())
    remote.notified(revision)
    assert seen == [Commit(revision, frozenset({"node.released", "bgp_peers"}))]
    remote.notified(revision)  # already covered: no read, no hook
    assert len(seen) == 1 and len(woken) == 2


def test_no_listener_on_sqlite(databases: Databases) -> None:
    url = fresh_db(databases, "sqlite")
    upgrade(url)
    controller = Controller(db=Database(url), settings=Settings(database_url=url))
    try:
        assert build_listener(controller, Notifier(), []) is None
    finally:
        controller.close()


def test_the_libpq_url_keeps_everything_but_the_driver() -> None:
    url = "postgresql+psycopg://user:pw@db.example:5433/hubnet?sslmode=require"
    assert libpq_url(url) == "postgresql://user:pw@db.example:5433/hubnet?sslmode=require"
