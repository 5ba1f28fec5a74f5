"""Reports (hubnet/router/report.py): states coalesce per node record, a failed report loses nothing, a report carries
at most the contract's 70,000 states, and the sender speaks the contract's body."""

from __future__ import annotations

import logging

import pytest

from hubnet.router import api as api_module
from hubnet.router.api import RouterApi
from hubnet.router.report import ReportBook, ReportSender
from hubnet.router.tally import Tally
from hubnet.server.domain.routes import NodeRef
from tests.unit.router.fakes import TOKEN, FakeControllers

SECRET = "s" * 64


def ref(name: str, generation: int = 1) -> NodeRef:
    return NodeRef(name, generation, "192.168.1.11")


def test_states_coalesce_per_node_record_and_the_latest_wins() -> None:
    book = ReportBook()
    book.states({ref("n1"): ("pending", None), ref("n2"): ("programmed", None)})
    book.states({ref("n1"): ("failed", "boom"), ref("n1", 2): ("programmed", None)})
    assert book.record(Tally(3, False, error="x"))
    report = book.take()
    assert report is not None
    assert report.states == {
        ("n1", 1): ("failed", "boom"),
        ("n2", 1): ("programmed", None),
        ("n1", 2): ("programmed", None),
    }
    assert book.take() is not None and book.take().states == {}  # type: ignore[union-attr]


def test_a_failed_report_keeps_its_states_under_newer_ones() -> None:
    book = ReportBook()
    book.states({ref("n1"): ("pending", None), ref("n2"): ("pending", None)})
    book.record(Tally(3, True, 2))
    report = book.take()
    assert report is not None
    book.states({ref("n1"): ("programmed", None)})
    book.failed(report)
    again = book.take()
    assert again is not None and again.states == {("n1", 1): ("programmed", None), ("n2", 1): ("pending", None)}


def test_a_report_is_due_when_the_tally_changed_or_states_wait() -> None:
    book = ReportBook()

    def send() -> None:
        report = book.take()
        assert report is not None
        book.sent(report)

    assert book.record(Tally(3, True, 2))  # the first
    send()
    assert not book.record(Tally(3, True, 2))  # the same again: the heartbeat repeats it in its time
    assert book.record(Tally(4, True, 2))  # the revision moved
    send()
    book.states({ref("n1"): ("failed", "x")})
    assert book.record(Tally(4, True, 2))  # states wait


def test_a_report_carries_at_most_the_contracts_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hubnet.router.report.MAX_STATES", 3)
    book = ReportBook()
    book.states({ref(f"n{i}"): ("programmed", None) for i in range(5)})
    book.record(Tally(1, True, 5))
    first = book.take()
    assert first is not None and len(first.states) == 3 and book.sent(first)  # more wait: send them at once
    second = book.take()
    assert second is not None and len(second.states) == 2 and not book.sent(second)
    assert api_module.MAX_STATES == 70_000


def test_the_sender_posts_the_contracts_body_and_keeps_states_while_no_controller_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    controllers = FakeControllers()
    api = RouterApi(controllers.client(), name="r1", secret=SECRET)
    api.join(TOKEN)
    book = ReportBook()
    sender = ReportSender(api, book, interval=60)
    book.states({ref("n1"): ("programmed", None)})
    book.record(Tally(7, True, 1))
    controllers.down = True
    with caplog.at_level(logging.WARNING, logger="hubnet.router"):
        sender._step("wake")
        sender._step("timer")
    assert controllers.reports == [] and len(caplog.records) == 1
    controllers.down = False
    sender._step("timer")
    (report,) = controllers.reports
    assert report == {
        "revision": 7, "complete": True, "route_count": 1, "missing": 0, "unexpected": 0, "foreign": 0,
        "error": None, "states": [{"node": "n1", "generation": 1, "state": "programmed", "error": None}],
        "_router": "r1",
    }  # fmt: skip
    sender._step("timer")  # the heartbeat: the same tally, no states
    assert controllers.reports[-1]["states"] == [] and controllers.reports[-1]["revision"] == 7
