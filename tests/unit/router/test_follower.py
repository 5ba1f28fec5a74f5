"""The feed follower (hubnet/router/follower.py) against in-memory controllers: join, the whole table, long-polls
from the last revision, and fail static — no controller error ever empties or changes the desired table."""

from __future__ import annotations

import logging

import pytest

from hubnet.router.api import RouterApi
from hubnet.router.follower import RETRY, Follower
from hubnet.router.table import DesiredTable
from tests.unit.router.fakes import TOKEN, FakeControllers

SECRET = "s" * 64


class Setup:
    def __init__(self, controllers: FakeControllers, token: str = TOKEN) -> None:
        self.controllers = controllers
        self.table = DesiredTable()
        self.updates = 0
        api = RouterApi(controllers.client(), name="r1", secret=SECRET)
        self.follower = Follower(api, self.table, token=token, on_update=self._updated, long_poll=25)

    def _updated(self) -> None:
        self.updates += 1

    def nodes(self) -> dict[str, list[str]]:
        return {name: [f"{r.prefix} via {r.next_hop}" for r in e.routes] for name, e in self.table.nodes().items()}


@pytest.fixture
def controllers() -> FakeControllers:
    c = FakeControllers()
    c.set_node("n1", "10.244.1.0/24 via 192.168.1.11")
    c.set_node("n2", "10.244.2.0/24 via 192.168.1.12")
    return c


def test_join_then_the_whole_table_at_once_then_long_polls(controllers: FakeControllers) -> None:
    s = Setup(controllers)
    assert s.follower.step() == 0.0
    assert controllers.routers == {"r1": SECRET} and s.follower.joined
    assert controllers.feeds == [{"since": "0"}]  # the whole table is never waited for
    assert s.nodes() == {"n1": ["10.244.1.0/24 via 192.168.1.11"], "n2": ["10.244.2.0/24 via 192.168.1.12"]}
    assert s.updates == 1
    controllers.set_node("n3", "10.244.3.0/24 via 192.168.1.13")
    s.follower.step()
    assert controllers.feeds[1] == {"since": "2", "wait": "25"} and "n3" in s.nodes() and s.updates == 2
    s.follower.step()  # nothing new: no update
    assert controllers.feeds[2] == {"since": "3", "wait": "25"} and s.updates == 2
    assert controllers.joins == 1


def test_a_removed_node_is_dropped(controllers: FakeControllers) -> None:
    s = Setup(controllers)
    s.follower.step()
    controllers.remove_node("n1")
    s.follower.step()
    assert s.nodes() == {"n2": ["10.244.2.0/24 via 192.168.1.12"]}


@pytest.mark.parametrize("failure", ["down", "502", "503", "504"])
def test_no_controller_answering_changes_nothing_and_is_retried_every_second(
    controllers: FakeControllers, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    s = Setup(controllers)
    s.follower.step()
    before = s.nodes()
    if failure == "down":
        controllers.down = True
    else:
        controllers.status = int(failure)
    with caplog.at_level(logging.WARNING, logger="hubnet.router"):
        delays = [s.follower.step() for _ in range(5)]
    assert delays == [RETRY] * 5
    assert s.nodes() == before and s.table.since == 2 and s.updates == 1  # fail static
    assert len(caplog.records) == 1  # one line per outage, not one per second
    controllers.down, controllers.status = False, None
    controllers.set_node("n3", "10.244.3.0/24 via 192.168.1.13")
    s.follower.step()
    assert controllers.feeds[-1]["since"] == "2"  # resumed where it was
    assert set(s.nodes()) == {"n1", "n2", "n3"}


def test_resuming_from_a_revision_the_controllers_forgot_replaces_the_table(controllers: FakeControllers) -> None:
    s = Setup(controllers)
    s.follower.step()
    controllers.down = True
    s.follower.step()
    controllers.down = False
    controllers.remove_node("n2")
    controllers.set_node("n4", "10.244.4.0/24 via 192.168.1.14")
    controllers.forget(4)  # the answer to since=2 is the whole table
    s.follower.step()
    assert set(s.nodes()) == {"n1", "n4"}


def test_a_malformed_answer_changes_nothing(controllers: FakeControllers) -> None:
    s = Setup(controllers)
    s.follower.step()
    controllers.garbage = {"revision": 9, "full": True, "entries": [{"node": "n1"}]}  # no generation, no routes
    assert s.follower.step() >= 1.0
    assert set(s.nodes()) == {"n1", "n2"} and s.table.since == 2
    controllers.garbage = {"revision": 9, "full": True, "entries": []}  # well-formed: the table really is empty
    s.follower.step()
    assert s.nodes() == {}


def test_a_refused_secret_joins_again(controllers: FakeControllers) -> None:
    s = Setup(controllers)
    s.follower.step()
    controllers.routers["r1"] = "another secret"  # e.g. the router was deleted and joined again elsewhere
    delay = s.follower.step()
    assert delay >= 1.0 and not s.follower.joined and set(s.nodes()) == {"n1", "n2"}
    s.follower.step()
    assert controllers.joins == 2 and s.follower.joined


def test_a_refused_token_tries_the_stored_secret(controllers: FakeControllers) -> None:
    """The bootstrap token expired since the first join: the secret the controller knows still works."""
    Setup(controllers).follower.step()
    s = Setup(controllers, token="expired")
    assert s.follower.step() == 0.0
    assert s.follower.joined and set(s.nodes()) == {"n1", "n2"}


def test_refusals_back_off(controllers: FakeControllers) -> None:
    s = Setup(controllers, token="wrong")  # never joined: the secret is unknown too
    delays = [s.follower.step() for _ in range(6)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert not s.table.loaded
