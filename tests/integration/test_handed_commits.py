"""A commit hands this process's reconciler the rows its route-moving events name (`Commit.rows`), so a change run
need not read them back: what it hands over must be exactly what the read would return. Differential, on both
databases: the random rounds of tests/integration/test_batch_cache.py (registrations with twins, re-joins, address
clashes and reclaims, heartbeats, deletes, rows written by hand) and rounds of registrations with route-state
reports, each round one batch; after each, `routes.handed(commit)` against `routes.changes` read from the revision
before it."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from hubnet.server.domain.routes import NodeRef
from hubnet.server.services import nodes, routes
from hubnet.server.services.ports import Commit, touched
from tests.integration.conftest import fresh_db
from tests.integration.support import Databases
from tests.integration.test_batch_cache import ROUNDS, Job, Side, _round


@pytest.fixture
def side(databases: Databases, db_kind: str) -> Iterator[Side]:
    one = Side(fresh_db(databases, db_kind))
    yield one
    one.ctl.close()


def _run(side: Side, jobs: list[Job]) -> Commit | None:
    """One batch; the commit its hooks saw (None: it appended no event)."""
    seen: list[Commit] = []
    side.ctl.db.after_commit.append(seen.append)
    try:
        side.ctl.db.write_batch(jobs)
    finally:
        side.ctl.db.after_commit.remove(seen.append)
    assert len(seen) <= 1
    return seen[0] if seen else None


def _check(side: Side, commit: Commit | None, what: str) -> bool:
    """Whatever the commit hands over equals the read from the revision before it; whether it handed rows."""
    if commit is None:
        return False
    handed = routes.handed(commit)
    assert handed is not None and commit.first is not None, what
    assert (handed.base, handed.revision) == (commit.first - 1, commit.revision), what
    if handed.changes is None:
        return False
    read = routes.changes(side.ctl, handed.base)
    assert read is not None, what
    assert handed.changes.revision == read.revision, what
    assert handed.changes.nodes == read.nodes, what
    assert handed.changes.desired == read.desired, what
    return True


def test_handed_rows_equal_the_read_in_random_rounds(side: Side) -> None:
    rnd = random.Random(777)
    handed = plain = 0
    for round_no in range(ROUNDS):
        side.now = 1000.0 + 100 * round_no
        jobs = _round(side.ctl, random.Random(rnd.randrange(1 << 30)), round_no)
        plain += all(touched(job) is not None for job in jobs)
        handed += _check(side, _run(side, jobs), f"round {round_no}")
    # every round without a row written by hand (a job that names no row: any row may have changed) hands its rows
    # over: registrations, re-joins, reclaims, heartbeats and deletes all say theirs
    assert handed == plain and plain >= 5


def test_registrations_and_reports_hand_their_rows_over(side: Side) -> None:
    handed = 0
    registered: list[NodeRef] = []
    for round_no in range(6):
        side.now = 1000.0 + 100 * round_no
        jobs: list[Job] = [
            nodes.register_job(
                side.ctl,
                token="boot",
                name=f"h-{round_no}-{i}",
                address=f"192.168.{50 + round_no}.{i + 1}",
                secret="c" * 43,
                machine_id=None,
            )
            for i in range(2)
        ]
        if registered:  # the reconciler's report of the previous round's nodes, in the same batch
            jobs.append(routes.report_job({ref: ("programmed", None) for ref in registered}))
        # the same node twice in one batch: the re-join (same secret: idempotent) may change the row again
        if round_no == 3:
            jobs.append(
                nodes.register_job(
                    side.ctl, token="boot", name="h-3-0", address="192.168.53.1", secret="c" * 43, machine_id=None
                )
            )
        commit = _run(side, jobs)
        handed += _check(side, commit, f"round {round_no}")
        assert commit is not None
        registered = [d.ref for d in routes.changes(side.ctl, commit.first - 1).desired]  # type: ignore[union-attr, operator]
    assert handed == 6  # every round handed its rows over, reports and a twin included
