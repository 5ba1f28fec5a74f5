"""`Repository.moves_since` (the route reconciler's and the routers' feed's read of what moved, in one statement)
answers exactly what its four separate queries answer: the head revision, the oldest event kept, the node of each
moving event after a revision (oldest first, at most `limit`, names of deleted nodes and events without a node
included) and the rows (live or released) of those nodes. Both databases, every `after` from 0 to past the head,
several limits."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Network
from typing import Any

import pytest

from hubnet.server.db.migrate import upgrade
from hubnet.server.db.uow import Database, UnitOfWork
from hubnet.server.domain.routefeed import FEED_MOVES
from hubnet.server.services import nodes, pools
from hubnet.server.services.context import Controller
from hubnet.server.settings import Settings
from tests.integration.conftest import fresh_db
from tests.integration.support import Databases

SECRET = "s" * 43


@pytest.fixture
def ctl(databases: Databases, db_kind: str) -> Iterator[Controller]:
    url = fresh_db(databases, db_kind)
    upgrade(url)
    settings = Settings(
        database_url=url,
        cluster_cidr=IPv4Network("10.244.0.0/16"),
        bootstrap_tokens=("boot",),
        admin_tokens=("admin",),
    )
    controller = Controller(db=Database(url), settings=settings)
    pools.ensure_pool(controller, cidr=settings.cluster_cidr, node_prefix=24)
    yield controller
    controller.close()


def _separately(uow: UnitOfWork, after: int, limit: int) -> tuple[Any, ...]:
    """The four queries the one statement replaced."""
    revision = uow.repo.revision()
    moved = uow.repo.event_nodes(after=after, upto=revision, kinds=FEED_MOVES, limit=limit)
    rows = uow.repo.nodes_named({n for n in moved if n}) if moved else []
    return revision, uow.repo.first_revision(), moved, sorted(rows, key=lambda r: r.name)


def _together(uow: UnitOfWork, after: int, limit: int) -> tuple[Any, ...]:
    moves = uow.repo.moves_since(after, kinds=FEED_MOVES, limit=limit)
    return moves.revision, moves.first, moves.nodes, sorted(moves.rows, key=lambda r: r.name)


def _hand_events(uow: UnitOfWork) -> None:
    """Moving events about a node that never existed and about no node, and one that does not move routes."""
    uow.emit("node.registered", "ms-ghost")
    uow.emit("node.released", None)
    uow.emit("node.renewed", "ms-0")


def test_one_statement_answers_what_the_four_queries_answer(ctl: Controller) -> None:
    empty = ctl.read(lambda uow: _together(uow, 0, 10))
    assert empty == ctl.read(lambda uow: _separately(uow, 0, 10))
    assert empty[2] == [] and empty[3] == []
    for i in range(8):
        nodes.register(ctl, token="boot", name=f"ms-{i}", address=f"192.168.50.{i + 1}", secret=SECRET, machine_id=None)
    ctl.write(_hand_events)
    nodes.delete(ctl, token="admin", name="ms-3")  # a released row now
    nodes.register(ctl, token="boot", name="ms-4", address="192.168.50.99", secret=SECRET, machine_id=None)  # moved
    head = ctl.read(lambda uow: uow.repo.revision())
    checked = 0
    for after in range(head + 2):
        for limit in (1, 3, 100):
            together = ctl.read(lambda uow, a=after, n=limit: _together(uow, a, n))  # type: ignore[misc]
            assert together == ctl.read(lambda uow, a=after, n=limit: _separately(uow, a, n)), (after, limit)
            checked += bool(together[2])
    assert checked > 20  # most cases saw moving events, not only the empty tail
    full = ctl.read(lambda uow: _together(uow, 0, 100))
    assert "ms-ghost" in full[2] and None in full[2] and "ms-3" in full[2]
    assert {r.name for r in full[3]} == {f"ms-{i}" for i in range(8)}
    assert next(r for r in full[3] if r.name == "ms-3").state == "released"
    assert next(r for r in full[3] if r.name == "ms-4").address == "192.168.50.99"
