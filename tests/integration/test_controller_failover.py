"""The node side's client between two real controllers (`hubnet server` under uvicorn, one SQLite file each): when
the first is stopped, the next request goes to the second at once — no back-off, no timeout to wait out."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubnet.node.agent.client import ControllerClient, Unreachable
from tests.integration.support import Databases, Server, new_secret, running, unique_address


@pytest.fixture
def two(databases: Databases, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    (tmp_path / "c1").mkdir()
    (tmp_path / "c2").mkdir()
    first = Server(databases.new("sqlite"), tmp_path / "c1")
    second = Server(databases.new("sqlite"), tmp_path / "c2", bootstrap=first.bootstrap)
    with running(first), running(second):
        yield first, second


def test_a_heartbeat_goes_to_the_second_controller_at_once(two: tuple[Server, Server]) -> None:
    first, second = two
    secret, address = new_secret(), unique_address()
    # Two databases stand in for two replicas of one: the node is known to both.
    for server in (second, first):
        one = ControllerClient(server.url)
        try:
            one.register(token=first.bootstrap, name="fo-1", address=address, secret=secret)
        finally:
            one.close()
    client = ControllerClient([first.url, second.url])
    try:
        assert client.heartbeat(name="fo-1", secret=secret).name == "fo-1"
        assert client.base_url == first.url
        first.stop(signal.SIGKILL)
        started = time.monotonic()
        record = client.heartbeat(name="fo-1", secret=secret)
        took = time.monotonic() - started
        assert record.name == "fo-1" and client.base_url == second.url
        assert took < 1.0, f"the heartbeat took {took:.2f}s to reach the second controller"
        started = time.monotonic()
        client.heartbeat(name="fo-1", secret=secret)  # remembered: straight to the second
        assert time.monotonic() - started < 0.5
        second.stop()
        started = time.monotonic()
        with pytest.raises(Unreachable, match=str(first.port)):  # each tried once (second, then first): the last
            client.heartbeat(name="fo-1", secret=secret)
        assert time.monotonic() - started < 1.0
    finally:
        client.close()
