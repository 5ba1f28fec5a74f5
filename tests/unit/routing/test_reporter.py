"""StateReporter: off-thread delivery, coalescing per node, retry after a failed write, flush on stop."""

from __future__ import annotations

import threading
import time

from hubnet.server.routing.reporter import StateReporter

States = dict[str, tuple[str, str | None]]


class Store:
    def __init__(self, failures: int = 0) -> None:
        self.calls: list[States] = []
        self.failures = failures
        self.gate = threading.Event()
        self.gate.set()

    def report(self, states: States) -> None:
        self.gate.wait(5)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("database is locked")
        self.calls.append(dict(states))

    def merged(self) -> States:
        out: States = {}
        for call in self.calls:
            out.update(call)
        return out


def wait_until(cond: object, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_unstarted_reporter_is_synchronous() -> None:
    store = Store()
    StateReporter(store.report, on_error=lambda: None).submit({"a": ("programmed", None)})
    assert store.calls == [{"a": ("programmed", None)}]


def test_pending_states_coalesce_latest_wins() -> None:
    store = Store()
    rep = StateReporter(store.report, on_error=lambda: None)
    rep.start()
    store.gate.clear()  # the database is busy: submissions pile up
    rep.submit({"a": ("failed", "x")})
    time.sleep(0.05)
    rep.submit({"a": ("programmed", None), "b": ("failed", "y")})
    rep.submit({"b": ("programmed", None)})
    store.gate.set()
    wait_until(lambda: store.merged() == {"a": ("programmed", None), "b": ("programmed", None)})
    rep.stop()
    assert len(store.calls) <= 2


def test_failed_write_is_retried_and_counted() -> None:
    store, errors = Store(failures=2), []
    rep = StateReporter(store.report, on_error=lambda: errors.append(1))
    rep.start()
    rep.submit({"a": ("programmed", None)})
    wait_until(lambda: store.calls == [{"a": ("programmed", None)}])
    rep.stop()
    assert len(errors) == 2


def test_stop_flushes_pending() -> None:
    store = Store()
    rep = StateReporter(store.report, on_error=lambda: None)
    rep.start()
    rep.submit({"a": ("programmed", None)})
    rep.stop()
    assert store.merged() == {"a": ("programmed", None)}
    assert not any(t.name == "hubnet-route-report" for t in threading.enumerate())
