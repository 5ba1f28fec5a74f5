"""The token buckets behind the rate limits (pure: the clock is a number we pass)."""

from __future__ import annotations

import pytest

from hubnet.server.domain.ratelimit import Buckets, retry_after


def test_burst_then_refused_with_the_wait_until_the_next_token() -> None:
    buckets = Buckets(rate=2.0, burst=3)
    assert [buckets.take("a", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", 100.0) == pytest.approx(0.5)
    assert buckets.take("a", 100.5) == 0.0  # refilled one token in 0.5 s at 2/s


def test_keys_are_independent() -> None:
    buckets = Buckets(rate=1.0, burst=1)
    assert buckets.take("a", 0.0) == 0.0
    assert buckets.take("a", 0.0) > 0
    assert buckets.take("b", 0.0) == 0.0


def test_refill_never_exceeds_the_burst() -> None:
    buckets = Buckets(rate=10.0, burst=2)
    buckets.take("a", 0.0)
    assert buckets.level("a", 1000.0) == 2.0


def test_empty_does_not_spend() -> None:
    buckets = Buckets(rate=1.0, burst=1)
    assert buckets.empty("a", 0.0) == 0.0 and buckets.empty("a", 0.0) == 0.0
    buckets.take("a", 0.0)
    assert buckets.empty("a", 0.0) == pytest.approx(1.0)


def test_memory_is_bounded_and_busy_keys_survive_pruning() -> None:
    buckets = Buckets(rate=1.0, burst=5, max_keys=100)
    for i in range(1000):
        buckets.take(f"guess-{i}", 0.0)
        if i % 20 == 0:
            buckets.take("busy", 0.0)  # a credential in use stays recent
    assert len(buckets) <= 100
    assert buckets.take("busy", 0.0) > 0  # an emptied bucket is not forgotten (and thereby refilled) while recent


@pytest.mark.parametrize(("wait", "header"), [(0.001, 1), (1.0, 1), (1.2, 2), (30.0, 30)])
def test_retry_after_is_whole_seconds_never_zero(wait: float, header: int) -> None:
    assert retry_after(wait) == header


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        Buckets(rate=0, burst=1)
