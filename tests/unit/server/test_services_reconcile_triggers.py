"""Which commits trigger a route reconcile (the composition root's hook): only those that move desired routes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubnet.server.app import create_app
from hubnet.server.db.memory import MemoryDatabase
from hubnet.server.domain.routes import NodeRef
from hubnet.server.routing.reconciler import Reconciler
from hubnet.server.services import nodes, pools, reaper, routes
from hubnet.server.services.context import Controller
from tests.unit.server.fakes import ADMIN, BOOT, Clock, kinds, settings

SECRET = "s" * 48


class Wired:
    def __init__(self, ctl: Controller, triggers: list[str]) -> None:
        self.ctl, self.triggers = ctl, triggers


@pytest.fixture
def wired(monkeypatch: pytest.MonkeyPatch) -> Iterator[Wired]:
    """The app as `create_app` wires it, over the in-memory database, with the fake route backend (not started)."""
    clock = Clock()
    config = settings(route_backend="fake")
    app = create_app(config, database=MemoryDatabase(clock=clock), background=False)
    ctl: Controller = app.state.controller
    reconciler: Reconciler = app.state.reconciler
    triggers: list[str] = []
    monkeypatch.setattr(reconciler, "trigger", lambda reason="change": triggers.append(reason))
    pools.ensure_pool(ctl, cidr=config.cluster_cidr, node_prefix=config.node_prefix)
    try:
        yield Wired(ctl, triggers)
    finally:
        ctl.close()


def test_only_route_moves_trigger_a_reconcile(wired: Wired) -> None:
    ctl, triggers = wired.ctl, wired.triggers
    assert triggers == []  # pool.added moves no route
    nodes.register(ctl, token=BOOT, name="node-a", address="192.168.1.10", secret=SECRET, machine_id=None)
    assert len(triggers) == 1

    routes.report(ctl, {NodeRef("node-a", 1, "192.168.1.10"): ("programmed", None)})
    assert kinds(ctl)[-1] == "route.programmed"  # committed and published to watchers ...
    assert len(triggers) == 1  # ... but no second, empty reconcile

    nodes.heartbeat(ctl, token=SECRET, name="node-a")
    nodes.register(ctl, token=BOOT, name="node-a", address="192.168.1.10", secret=SECRET, machine_id=None)
    assert len(triggers) == 1  # renewals move nothing

    nodes.register(ctl, token=BOOT, name="node-a", address="192.168.1.20", secret=SECRET, machine_id=None)
    assert kinds(ctl)[-1] == "node.address_changed"
    assert len(triggers) == 2

    nodes.delete(ctl, token=ADMIN, name="node-a")
    assert kinds(ctl)[-1] == "node.released"
    assert len(triggers) == 3


def test_stale_mark_does_not_trigger_and_release_does(wired: Wired) -> None:
    ctl, triggers = wired.ctl, wired.triggers
    nodes.register(ctl, token=BOOT, name="node-a", address="192.168.1.10", secret=SECRET, machine_id=None)
    assert isinstance(ctl.db, MemoryDatabase) and isinstance(ctl.db.clock, Clock)
    ctl.db.clock.now += ctl.settings.lease_ttl_seconds + 1
    assert reaper.reap(ctl) == (1, 0)
    assert len(triggers) == 1  # the stale node keeps its route
    ctl.db.clock.now += ctl.settings.release_grace_seconds + 1
    assert reaper.reap(ctl) == (0, 1)
    assert len(triggers) == 2


@pytest.mark.parametrize(
    ("event_kinds", "moves"),
    [
        pytest.param({"node.registered"}, True, id="registered"),
        pytest.param({"node.address_changed"}, True, id="address-changed"),
        pytest.param({"node.released"}, True, id="released"),
        pytest.param({"route.programmed", "node.registered"}, True, id="mixed-batch"),
        pytest.param({"route.programmed"}, False, id="route-programmed"),
        pytest.param({"route.failed"}, False, id="route-failed"),
        pytest.param({"node.renewed", "node.stale"}, False, id="renewed-stale"),
        pytest.param({"node.deleted", "pool.added", "pool.deleted"}, False, id="records-and-pools"),
    ],
)
def test_moves_routes(event_kinds: set[str], moves: bool) -> None:
    assert routes.moves_routes(event_kinds) is moves


def test_service_unit_tests_need_no_sqlalchemy() -> None:
    """The use cases run on the in-memory unit of work without loading SQLAlchemy (nor SQLite) at all."""
    code = (
        "import sys\n"
        "from tests.unit.server.fakes import Clock, memory_controller\n"
        "from hubnet.server.services import nodes, reaper\n"
        "with memory_controller(Clock()) as ctl:\n"
        "    nodes.register(ctl, token='boot', name='a', address='192.168.1.1', secret='s' * 48, machine_id=None)\n"
        "    nodes.heartbeat(ctl, token='s' * 48, name='a')\n"
        "    reaper.reap(ctl)\n"
        "    nodes.delete(ctl, token='admin', name='a')\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlite3', '_sqlite3'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=Path(__file__).resolve().parents[3])
