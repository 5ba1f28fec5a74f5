"""The one supervised background loop (hubnet.loop): start, wake, interval, capped backoff, logging, stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from hubnet.loop import Backoff, Cause, SupervisedLoop

log = logging.getLogger("test.loop")


class Steps:
    """Records each step's cause; fails while `failing` is set; lets a test wait for the n-th step."""

    def __init__(self) -> None:
        self.causes: list[Cause] = []
        self.failing = False
        self._cv = threading.Condition()

    def __call__(self, cause: Cause) -> None:
        with self._cv:
            self.causes.append(cause)
            self._cv.notify_all()
        if self.failing:
            raise RuntimeError("step broke")

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Cause]:
        with self._cv:
            assert self._cv.wait_for(lambda: len(self.causes) >= count, timeout), self.causes
            return list(self.causes)


@pytest.fixture
def make() -> Iterator[Callable[..., SupervisedLoop]]:
    loops: list[SupervisedLoop] = []

    def build(step: Steps, **kwargs: object) -> SupervisedLoop:
        options: dict[str, object] = {"interval": 60.0, "log": log, "what": "test step", **kwargs}
        loop = SupervisedLoop("test-loop", step, **options)  # type: ignore[arg-type]
        loops.append(loop)
        return loop

    yield build
    for loop in loops:
        loop.stop(timeout=5)


def test_runs_at_once_then_on_wake(make: Callable[..., SupervisedLoop]) -> None:
    steps = Steps()
    loop = make(steps)
    loop.start()
    assert steps.wait_for(1) == ["start"]
    loop.wake()
    assert steps.wait_for(2) == ["start", "wake"]


def test_interval_elapsing_runs_a_timer_step(make: Callable[..., SupervisedLoop]) -> None:
    steps = Steps()
    make(steps, interval=0.05).start()
    assert steps.wait_for(3)[:3] == ["start", "timer", "timer"]


def test_wakes_coalesce_into_one_run(make: Callable[..., SupervisedLoop]) -> None:
    release = threading.Event()
    steps = Steps()

    def slow(cause: Cause) -> None:
        steps(cause)
        release.wait(5)

    loop = make(slow)
    loop.start()
    steps.wait_for(1)
    for _ in range(5):  # all while the first step still runs
        loop.wake()
    release.set()
    assert steps.wait_for(2) == ["start", "wake"]
    time.sleep(0.1)
    assert steps.causes == ["start", "wake"]


def test_failure_is_logged_counted_and_retried_with_capped_backoff(
    make: Callable[..., SupervisedLoop], caplog: pytest.LogCaptureFixture
) -> None:
    errors: list[None] = []
    steps = Steps()
    steps.failing = True
    backoff = Backoff(first=0.01, cap=0.02)
    loop = make(steps, backoff=backoff, on_error=lambda: errors.append(None))
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="test.loop"):
        loop.start()
        assert steps.wait_for(4)[:4] == ["start", "retry", "retry", "retry"]
    assert time.monotonic() - started < 5  # not the 60 s interval
    assert len(errors) >= 3
    assert "test step failed (start); retrying" in caplog.text
    assert "RuntimeError: step broke" in caplog.text
    steps.failing = False
    count = len(steps.wait_for(5))
    time.sleep(0.1)
    assert len(steps.causes) == count  # recovered: back to the 60 s interval


@pytest.mark.parametrize(
    ("backoff", "interval", "failures", "wait"),
    [
        pytest.param(Backoff(0.1, 5.0), None, 1, 0.2, id="doubles"),
        pytest.param(Backoff(0.1, 5.0), None, 10, 5.0, id="capped"),
        pytest.param(Backoff(0.2, float("inf")), 3.0, 10, 3.0, id="never-past-the-interval"),
        pytest.param(None, 3.0, 4, 3.0, id="no-backoff-waits-the-interval"),
        pytest.param(Backoff(0.1, 5.0), 3.0, 0, 3.0, id="healthy-waits-the-interval"),
    ],
)
def test_wait_after_failures(backoff: Backoff | None, interval: float | None, failures: int, wait: float) -> None:
    loop = SupervisedLoop("t", lambda cause: None, interval=interval, log=log, what="t", backoff=backoff)
    assert loop._wait(failures) == pytest.approx(wait)


def test_without_backoff_a_failure_waits_the_interval(make: Callable[..., SupervisedLoop]) -> None:
    steps = Steps()
    steps.failing = True
    make(steps, interval=0.05).start()
    assert steps.wait_for(2)[:2] == ["start", "retry"]


def test_stop_joins_the_thread_and_is_idempotent(make: Callable[..., SupervisedLoop]) -> None:
    steps = Steps()
    loop = make(steps)
    loop.start()
    steps.wait_for(1)
    loop.stop(timeout=5)
    assert not loop.running
    assert not any(t.name == "test-loop" for t in threading.enumerate())
    loop.stop(timeout=5)
    assert steps.causes == ["start"]


def test_first_step_runs_even_when_stopped_at_once(make: Callable[..., SupervisedLoop]) -> None:
    steps = Steps()
    loop = make(steps)
    loop.start()
    loop.stop(timeout=5)
    assert steps.causes == ["start"]


def test_final_step_runs_after_stop(make: Callable[..., SupervisedLoop]) -> None:
    steps = Steps()
    loop = make(steps, interval=None, final_step=True)
    loop.start()
    steps.wait_for(1)
    loop.stop(timeout=5)
    assert steps.causes == ["start", "stop"]


def test_can_start_again_after_stop(make: Callable[..., SupervisedLoop]) -> None:
    steps = Steps()
    loop = make(steps)
    loop.start()
    steps.wait_for(1)
    loop.stop(timeout=5)
    loop.start()
    assert steps.wait_for(2) == ["start", "start"]
