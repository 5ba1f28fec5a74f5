"""The watch feed never skips an event, even when a batch commits while a page is being read (READ COMMITTED)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hubnet.server.db.migrate import upgrade
from hubnet.server.db.repository import Repository
from hubnet.server.db.uow import Database, UnitOfWork
from hubnet.server.services import events
from hubnet.server.services.context import Controller
from hubnet.server.settings import Settings
from tests.integration.conftest import fresh_db
from tests.integration.support import Databases


@pytest.fixture
def ctl(databases: Databases, db_kind: str) -> Iterator[Controller]:
    url = fresh_db(databases, db_kind)
    upgrade(url)
    controller = Controller(db=Database(url), settings=Settings(database_url=url, admin_tokens=("admin",)))
    yield controller
    controller.close()


def _emit(kind: str) -> Any:
    def job(uow: UnitOfWork) -> None:
        uow.emit(kind, None)

    return job


def test_batch_committing_between_the_feed_reads_is_not_skipped(
    ctl: Controller, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctl.write(_emit("test.before"))
    _, start = events.since(ctl, revision=0, limit=100)
    injected: list[bool] = []

    def commit_once_after(method: Any) -> Any:
        """After the feed's first repository read, another writer commits one event (on its own connection)."""

        def wrapper(self: Repository, *args: Any, **kwargs: Any) -> Any:
            value = method(self, *args, **kwargs)
            if not injected:
                injected.append(True)
                assert ctl.db.write_batch([_emit("test.racing")]) == [(True, None)]
            return value

        return wrapper

    monkeypatch.setattr(Repository, "events_since", commit_once_after(Repository.events_since))
    monkeypatch.setattr(Repository, "revision", commit_once_after(Repository.revision))
    first, cursor = events.since(ctl, revision=start, limit=100)
    monkeypatch.undo()
    assert injected
    second, _ = events.since(ctl, revision=cursor, limit=100)
    seen = [e.type for e in first + second]
    assert seen == ["test.racing"], f"page 1 {first}, cursor {cursor}, page 2 {second}"
