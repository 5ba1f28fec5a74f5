"""The reaper releases a lease only after two observations across the grace: a pass that sees it expired marks
it stale; a later pass, at least the grace after that mark and with the lease still expired (re-checked in the
same conditional UPDATE), releases it. Service layer over a real SQLite file, with a controllable clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hubnet.server.services import nodes
from hubnet.server.services.context import Controller
from hubnet.server.services.reaper import reap
from tests.integration.support import ManualClock, clocked_controller, new_secret

TTL, GRACE = 10.0, 30.0


@pytest.fixture
def ctl(tmp_path: Path) -> Iterator[tuple[Controller, ManualClock]]:
    clock = ManualClock()
    controller = clocked_controller(
        f"sqlite:///{tmp_path / 'hubnet.db'}", clock, lease_ttl_seconds=TTL, release_grace_seconds=GRACE
    )
    try:
        yield controller, clock
    finally:
        controller.close()


def _register(ctl: Controller, name: str, secret: str) -> None:
    nodes.register(ctl, token="boot", name=name, address="172.16.9.1", secret=secret, machine_id=None)


def _state(ctl: Controller, name: str) -> str:
    node = ctl.read(lambda uow: uow.repo.node(name))
    assert node is not None
    return node.state


def test_a_late_pass_marks_stale_first_and_releases_only_a_grace_later(ctl: tuple[Controller, ManualClock]) -> None:
    controller, clock = ctl
    _register(controller, "late", new_secret())
    clock.now += 1000  # the reaper ran long after TTL + grace (a paused process, a busy database)
    assert reap(controller) == (1, 0), "released on its first observation"
    assert reap(controller) == (0, 0)
    clock.now += GRACE - 1
    assert reap(controller) == (0, 0) and _state(controller, "late") == "stale"
    clock.now += 2
    assert reap(controller) == (0, 1) and _state(controller, "late") == "released"


def test_a_heartbeat_between_the_observations_saves_the_lease(ctl: tuple[Controller, ManualClock]) -> None:
    controller, clock = ctl
    secret = new_secret()
    _register(controller, "back", secret)
    clock.now += TTL + 1
    assert reap(controller) == (1, 0)
    clock.now += GRACE - 5
    nodes.heartbeat(controller, token=secret, name="back")
    clock.now += 6  # past the grace since the stale mark, but the lease was renewed meanwhile
    assert reap(controller) == (0, 0) and _state(controller, "back") == "active"
