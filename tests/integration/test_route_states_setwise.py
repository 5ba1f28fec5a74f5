"""`Repository.set_route_states` (one statement per chunk of route states) stores and answers exactly what
`set_route_state` does one state at a time. Differential, on both databases: two databases with the same nodes
(dual-stack, one released, one re-joined so its generation moved), then random reports — right and stale
generations, wrong primary addresses, wrong or unchecked IPv6 identities, released rows, unknown names, states equal
to the stored one, errors and none, the same (name, generation) twice — stored set-wise on one and one by one on the
other, with chunks of 3 so chunk edges fall everywhere: every answer and every row must agree."""

from __future__ import annotations

import random
from collections.abc import Iterator
from ipaddress import IPv4Network, IPv6Network
from typing import Any

import pytest
from sqlalchemy import text

from hubnet.server.db import repository
from hubnet.server.db.migrate import upgrade
from hubnet.server.db.uow import Database, UnitOfWork
from hubnet.server.services import nodes, pools
from hubnet.server.services.context import Controller
from hubnet.server.services.ports import RouteStateWrite
from hubnet.server.settings import Settings
from tests.integration.conftest import fresh_db
from tests.integration.support import Databases

NAMES = [f"rs-{i}" for i in range(10)]
SECRET = "r" * 43
ROUNDS = 30
COLUMNS = "name, generation, state, route_state, route_error"


def _register(ctl: Controller, name: str, host: int) -> None:
    """A dual-stack registration at 192.168.60.<host> and fd00:60::<host>."""
    v4 = f"192.168.60.{host}"
    nodes.register(
        ctl, token="boot", name=name, address=v4, addresses=[v4, f"fd00:60::{host}"], secret=SECRET, machine_id=None
    )


def _controller(url: str) -> Controller:
    upgrade(url)
    settings = Settings(
        database_url=url,
        cluster_cidrs=(IPv4Network("10.244.0.0/16"), IPv6Network("fd00:10:244::/56")),
        bootstrap_tokens=("boot",),
        admin_tokens=("admin",),
    )
    ctl = Controller(db=Database(url, clock=lambda: 1000.0), settings=settings)
    pools.ensure_pools(ctl)
    for i, name in enumerate(NAMES):
        _register(ctl, name, i + 1)
    nodes.delete(ctl, token="admin", name=NAMES[0])  # a released row
    nodes.delete(ctl, token="admin", name=NAMES[1])  # and back: a new generation
    _register(ctl, NAMES[1], 98)
    _register(ctl, NAMES[2], 99)  # a re-join at new addresses
    return ctl


@pytest.fixture
def pair(databases: Databases, db_kind: str) -> Iterator[tuple[Controller, Controller]]:
    one, other = _controller(fresh_db(databases, db_kind)), _controller(fresh_db(databases, db_kind))
    yield one, other
    one.close()
    other.close()


def _rows(ctl: Controller) -> list[tuple[Any, ...]]:
    def read(uow: UnitOfWork) -> list[tuple[Any, ...]]:
        sql = uow.repo.sql  # type: ignore[attr-defined]
        return [tuple(r) for r in sql.execute(text(f"SELECT {COLUMNS} FROM nodes ORDER BY name"))]

    return ctl.read(read)


def _identities(ctl: Controller) -> list[tuple[str, int, str, str | None, str | None]]:
    def read(uow: UnitOfWork) -> list[tuple[str, int, str, str | None, str | None]]:
        return [(n.name, n.generation, n.primary_address, n.subnet6, n.address6) for n in uow.repo.nodes_named(NAMES)]

    return ctl.read(read)


def _report(rng: random.Random, known: list[tuple[str, int, str, str | None, str | None]]) -> list[RouteStateWrite]:
    items = []
    for _ in range(rng.randint(1, 12)):
        name, generation, address, subnet6, address6 = rng.choice(known)
        roll = rng.random()
        if roll < 0.1:
            generation += rng.choice((-1, 1))  # a report about another incarnation
        elif roll < 0.2:
            address = "192.168.61.1"  # about its routes before an address change
        elif roll < 0.25:
            name = "rs-unknown"
        v6: tuple[str | None, str | None] | None = None
        if rng.random() < 0.6:
            v6 = (subnet6, address6) if rng.random() < 0.8 else (subnet6, "fd00:61::1")
        state = rng.choice(("programmed", "failed", "pending"))
        error = {
            "programmed": None,
            "failed": rng.choice(("EEXIST", "ENETUNREACH")),
            "pending": rng.choice((None, "why")),
        }
        items.append(RouteStateWrite(name, generation, address, state, error[state], v6))
    if rng.random() < 0.3:  # the same (name, generation) again, maybe with another state
        first = rng.choice(items)
        items.append(RouteStateWrite(first.name, first.generation, first.address, "failed", "again", first.v6))
    return items


def test_set_wise_stores_and_answers_what_one_by_one_does(
    pair: tuple[Controller, Controller], monkeypatch: pytest.MonkeyPatch
) -> None:
    setwise, single = pair
    assert _rows(setwise) == _rows(single)
    monkeypatch.setattr(repository, "STATES_CHUNK", 3)
    known = _identities(setwise)
    assert len(known) == len(NAMES) and known == _identities(single)
    rng = random.Random(14)
    changed_any = unchanged_any = 0
    for _ in range(ROUNDS):
        items = _report(rng, known)
        together = setwise.write(lambda uow, i=items: uow.repo.set_route_states(i))  # type: ignore[misc]
        alone = single.write(
            lambda uow, i=items: [  # type: ignore[misc]
                uow.repo.set_route_state(w.name, w.generation, w.address, w.state, w.error, v6=w.v6) for w in i
            ]
        )
        assert together == alone, items
        assert _rows(setwise) == _rows(single), items
        changed_any += sum(together)
        unchanged_any += len(together) - sum(together)
    assert changed_any > 30 and unchanged_any > 30  # both outcomes were exercised, not one of them only
    stored = {row[0]: row for row in _rows(setwise)}
    assert stored[NAMES[0]][2] == "released"
