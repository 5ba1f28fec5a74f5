"""Chaos tier: real controllers (uvicorn), real SQLite/PostgreSQL, real router namespaces; sizes from env vars.

Run it with `pytest -q tests/chaos` (the `make test-chaos` target); it is slower than the other tiers on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.support import Databases, pg_available
from tests.support.prereq import need


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    dbs = Databases(tmp_path_factory.mktemp("dbs"))
    yield dbs
    dbs.drop_all()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, databases: Databases) -> str:
    """A fresh, empty database of each kind (PostgreSQL: a new database, dropped at the end of the session)."""
    if request.param == "postgres":
        need(pg_available(), "needs PostgreSQL on 127.0.0.1:5432 (scripts/start-postgres.sh)")
    return databases.new(str(request.param))
