"""The lease clock at start-up (`resume_leases`) over real SQLite and PostgreSQL, with a controllable clock: no
controller alive for D > 2 intervals → every live lease (active and stale) shifted by exactly D - interval, released
rows and the stale marks (`updated_at`) untouched; D small → nothing changes; never stamped → expired leases get one
TTL; a clock row deleted by hand comes back at the next stamp."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hubnet.server.domain.lease import Resume, ResumePlan
from hubnet.server.services import nodes
from hubnet.server.services.context import Controller
from hubnet.server.services.reaper import reap, resume_leases
from tests.integration.conftest import fresh_db
from tests.integration.support import Databases, ManualClock, clocked_controller, new_secret, sql

TTL, GRACE, INTERVAL = 10.0, 30.0, 5.0
Row = tuple[str, str, float, float]  # name, state, expires_at, updated_at


@pytest.fixture
def ctl(databases: Databases, db_kind: str) -> Iterator[tuple[Controller, ManualClock]]:
    """A controller with an active (`act`), a stale (`sta`) and a released (`rel`) node; the clock was last stamped
    by the reaper pass that marked `sta` stale, at the current time."""
    clock = ManualClock()
    controller = clocked_controller(
        fresh_db(databases, db_kind),
        clock,
        lease_ttl_seconds=TTL,
        release_grace_seconds=GRACE,
        reaper_interval_seconds=INTERVAL,
    )
    try:
        secrets = {name: new_secret() for name in ("act", "sta", "rel")}
        for i, (name, secret) in enumerate(secrets.items()):
            nodes.register(
                controller, token="boot", name=name, address=f"172.16.9.{i + 1}", secret=secret, machine_id=None
            )
        nodes.delete(controller, token="admin", name="rel")
        clock.now += TTL + 1
        assert reap(controller) == (2, 0)
        nodes.heartbeat(controller, token=secrets["act"], name="act")
        yield controller, clock
    finally:
        controller.close()


def _rows(ctl: Controller) -> dict[str, Row]:
    query = "SELECT name, state, expires_at, updated_at FROM nodes"
    return {str(r[0]): (str(r[0]), str(r[1]), float(r[2]), float(r[3])) for r in sql(ctl.settings.db_url, query)}


def _alive_at(ctl: Controller) -> Any:
    return sql(ctl.settings.db_url, "SELECT alive_at FROM controller_clock")[0][0]


def test_long_outage_shifts_every_live_lease_by_the_outage_less_an_interval(
    ctl: tuple[Controller, ManualClock],
) -> None:
    controller, clock = ctl
    before = _rows(controller)
    assert [before[n][1] for n in ("act", "sta", "rel")] == ["active", "stale", "released"]
    clock.now += 3600
    assert resume_leases(controller) == (ResumePlan(Resume.SHIFT, 3600.0 - INTERVAL), 2)
    after = _rows(controller)
    for name in ("act", "sta"):
        _, state, expires_at, updated_at = before[name]
        assert after[name] == (name, state, expires_at + 3600 - INTERVAL, updated_at)
    assert after["rel"] == before["rel"]
    assert _alive_at(controller) == clock.now


def test_after_a_shift_a_stale_node_is_released_after_the_grace_of_up_time(ctl: tuple[Controller, ManualClock]) -> None:
    controller, clock = ctl
    clock.now += 3600
    resume_leases(controller)
    expires_at = _rows(controller)["sta"][2]
    clock.now = expires_at + GRACE - 1
    assert reap(controller)[1] == 0 and _rows(controller)["sta"][1] == "stale"
    clock.now = expires_at + GRACE + 1
    assert reap(controller)[1] == 1 and _rows(controller)["sta"][1] == "released"


@pytest.mark.parametrize("down", [0.0, INTERVAL + 1, 2 * INTERVAL])
def test_a_controller_alive_moments_ago_changes_nothing(ctl: tuple[Controller, ManualClock], down: float) -> None:
    controller, clock = ctl
    before = _rows(controller)
    clock.now += down
    assert resume_leases(controller) == (ResumePlan(Resume.KEEP), 0)
    assert _rows(controller) == before
    assert _alive_at(controller) == clock.now


def test_never_stamped_gives_expired_leases_one_ttl_once(ctl: tuple[Controller, ManualClock]) -> None:
    controller, clock = ctl
    sql(controller.settings.db_url, "UPDATE controller_clock SET alive_at = NULL")  # as right after migration 0007
    before = _rows(controller)
    clock.now += 3600
    assert resume_leases(controller) == (ResumePlan(Resume.ONE_TTL), 2)  # `act` and `sta` both expired meanwhile
    after = _rows(controller)
    for name in ("act", "sta"):
        _, state, _, updated_at = before[name]
        assert after[name] == (name, state, clock.now + TTL, updated_at)
    assert after["rel"] == before["rel"]
    clock.now += 3600  # the clock is stamped now: the next start shifts instead
    assert resume_leases(controller) == (ResumePlan(Resume.SHIFT, 3600.0 - INTERVAL), 2)


def test_the_clock_only_moves_forward(ctl: tuple[Controller, ManualClock]) -> None:
    controller, clock = ctl
    stamped = _alive_at(controller)
    controller.write(lambda uow: uow.repo.stamp_alive(now=uow.now - 100))  # a pass that commits late
    assert _alive_at(controller) == stamped
    controller.write(lambda uow: uow.repo.stamp_alive(now=uow.now + 1))
    assert _alive_at(controller) == clock.now + 1


def test_a_clock_row_deleted_by_hand_comes_back_at_the_next_stamp(ctl: tuple[Controller, ManualClock]) -> None:
    """Without the row every start would fall back to one TTL: the next reaper pass re-creates it, so only the one
    start in between applies the one-TTL rule and the following starts shift again."""
    controller, clock = ctl
    sql(controller.settings.db_url, "DELETE FROM controller_clock")
    clock.now += 1
    reap(controller)
    assert sql(controller.settings.db_url, "SELECT id, alive_at FROM controller_clock") == [(1, clock.now)]
    clock.now += 3600
    assert resume_leases(controller)[0] == ResumePlan(Resume.SHIFT, 3600.0 - INTERVAL)


def test_a_start_without_the_clock_row_applies_one_ttl_once(ctl: tuple[Controller, ManualClock]) -> None:
    controller, clock = ctl
    sql(controller.settings.db_url, "DELETE FROM controller_clock")
    clock.now += 3600
    assert resume_leases(controller)[0] == ResumePlan(Resume.ONE_TTL)
    assert _alive_at(controller) == clock.now
    clock.now += 3600
    assert resume_leases(controller)[0] == ResumePlan(Resume.SHIFT, 3600.0 - INTERVAL)
