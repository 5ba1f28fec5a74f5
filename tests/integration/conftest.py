"""Integration tier: real SQLite files and real PostgreSQL databases (one fresh database per use, dropped at end)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.support import Databases, Server, pg_available, running
from tests.support.prereq import need

DB_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    dbs = Databases(tmp_path_factory.mktemp("dbs"))
    yield dbs
    dbs.drop_all()


def fresh_db(databases: Databases, kind: str) -> str:
    if kind == "postgres":
        need(pg_available(), "needs PostgreSQL on 127.0.0.1:5432 (scripts/start-postgres.sh)")
    return databases.new(kind)


@pytest.fixture(params=DB_KINDS)
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module", params=DB_KINDS)
def server(
    request: pytest.FixtureRequest, databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One real controller per module and database kind (tests share it; each uses its own node names)."""
    url = fresh_db(databases, str(request.param))
    with running(Server(url, Path(tmp_path_factory.mktemp("server")))) as srv:
        yield srv
