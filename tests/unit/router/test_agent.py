"""The whole router agent (hubnet/router/agent.py), its three threads running, against in-memory controllers (two
URLs, one state) and the in-tree FakeBackend: join → full table → routes → reports; failover; fail static while no
controller answers; resume from the last revision."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from hubnet.node.agent.server import AlreadyRunning
from hubnet.router.agent import RouterAgent
from hubnet.router.config import RouterConfig
from hubnet.server.domain.routes import Route
from hubnet.server.routing.fake import FakeBackend
from tests.unit.router.fakes import TOKEN, FakeControllers


def r(n: int) -> Route:
    return Route(IPv4Network(f"10.244.{n}.0/24"), IPv4Address(f"192.168.1.{10 + n}"))


def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.01)


@dataclass
class Running:
    agent: RouterAgent
    backend: FakeBackend
    controllers: FakeControllers
    stop: threading.Event
    thread: threading.Thread
    errors: list[BaseException]

    def last_report(self) -> dict[str, object]:
        return self.controllers.reports[-1] if self.controllers.reports else {}

    def halt(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


def start(tmp_path: Path, controllers: FakeControllers, backend: FakeBackend | None = None) -> Running:
    config = RouterConfig(
        name="r1", controllers=("http://c1:6780", "http://c2:6780"), token=TOKEN, state_dir=str(tmp_path / "state"),
        interval=0.3, report_interval=0.2, long_poll=1,
    )  # fmt: skip
    backend = backend if backend is not None else FakeBackend()
    agent = RouterAgent(config, client_factory=controllers.factory(), backend_factory=lambda: backend)
    stop, errors = threading.Event(), []

    def run() -> None:
        try:
            agent.run(stop)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return Running(agent, backend, controllers, stop, thread, errors)


@pytest.fixture
def controllers() -> FakeControllers:
    c = FakeControllers()
    c.set_node("n1", "10.244.1.0/24 via 192.168.1.11")
    c.set_node("n2", "10.244.2.0/24 via 192.168.1.12")
    return c


@pytest.fixture
def running(tmp_path: Path, controllers: FakeControllers) -> Iterator[Running]:
    agent = start(tmp_path, controllers)
    yield agent
    agent.halt()


def test_join_program_report(running: Running, tmp_path: Path) -> None:
    wait_for(lambda: running.backend.routes == {r(1), r(2)})
    wait_for(lambda: running.controllers.states() == {"n1": "programmed", "n2": "programmed"})
    report = running.last_report()
    assert (report["revision"], report["complete"], report["route_count"]) == (2, True, 2)
    path = tmp_path / "state" / "router-r1.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text())["secret"] == running.controllers.routers["r1"]
    running.controllers.set_node("n3", "10.244.3.0/24 via 192.168.1.13")
    running.controllers.remove_node("n1")
    wait_for(lambda: running.backend.routes == {r(2), r(3)})
    wait_for(lambda: running.last_report().get("revision") == 4)


def test_the_heartbeat_reports_even_when_nothing_changes(running: Running) -> None:
    wait_for(lambda: running.controllers.states() == {"n1": "programmed", "n2": "programmed"})
    count = len(running.controllers.reports)
    time.sleep(1.0)
    assert len(running.controllers.reports) >= count + 2  # every --report-interval (0.2 s here)


def test_a_controller_down_from_the_start_is_skipped(tmp_path: Path, controllers: FakeControllers) -> None:
    controllers.down_hosts = {"c1"}
    agent = start(tmp_path, controllers)
    try:
        wait_for(lambda: agent.backend.routes == {r(1), r(2)})
        wait_for(lambda: controllers.states() == {"n1": "programmed", "n2": "programmed"})
    finally:
        agent.halt()


def test_fail_static_then_resume_from_the_last_revision(running: Running) -> None:
    controllers = running.controllers
    wait_for(lambda: running.backend.routes == {r(1), r(2)})
    controllers.down = True
    time.sleep(0.1)  # a report already past the fake's door when it went down
    reports = len(controllers.reports)
    controllers.set_node("n3", "10.244.3.0/24 via 192.168.1.13")  # registered meanwhile (unseen until it heals)
    running.backend.drift(remove=[r(1)])  # drift is still repaired, towards the last table known
    wait_for(lambda: running.backend.routes == {r(1), r(2)})
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        assert running.backend.routes == {r(1), r(2)}  # nothing removed for lack of data
        time.sleep(0.05)
    assert running.agent.table.since == 2 and len(controllers.reports) == reports
    feeds = len(controllers.feeds)
    controllers.down = False
    wait_for(lambda: running.backend.routes == {r(1), r(2), r(3)})
    assert controllers.feeds[feeds]["since"] == "2"  # resumed from the last revision, not the whole table again
    wait_for(lambda: controllers.states().get("n3") == "programmed")


def test_nothing_is_touched_before_the_whole_table_was_read(tmp_path: Path, controllers: FakeControllers) -> None:
    """Start-up without a flush: an agent that cannot reach a controller leaves the table exactly as it is, stale
    routes of ours included."""
    controllers.down = True
    agent = start(tmp_path, controllers, FakeBackend({r(9)}))
    try:
        time.sleep(1.0)
        assert agent.backend.routes == {r(9)} and agent.backend.plans == []
        controllers.down = False
        wait_for(lambda: agent.backend.routes == {r(1), r(2)})  # now the start-up run sweeps it
    finally:
        agent.halt()


def test_stop_leaves_the_routes_and_sends_a_last_report(running: Running) -> None:
    wait_for(lambda: running.backend.routes == {r(1), r(2)})
    running.halt()
    assert running.backend.closed and running.backend.routes == {r(1), r(2)}
    assert running.errors == []


def test_a_second_agent_of_the_same_router_is_refused(running: Running, tmp_path: Path) -> None:
    wait_for(lambda: running.backend.routes == {r(1), r(2)})
    second = start(tmp_path, running.controllers)
    second.thread.join(timeout=5)
    assert len(second.errors) == 1 and isinstance(second.errors[0], AlreadyRunning)
    assert "router-r1.lock" in str(second.errors[0])
