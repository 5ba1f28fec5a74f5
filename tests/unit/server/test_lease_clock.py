"""The pure resume rule: what a starting controller does to live leases, given when a controller was last alive."""

from __future__ import annotations

import pytest

from server.domain.lease import Resume, ResumePlan, resume_plan

INTERVAL, NOW = 5.0, 1_000_000.0


@pytest.mark.parametrize(
    ("alive_at", "expected"),
    [
        pytest.param(None, ResumePlan(Resume.ONE_TTL), id="never-stamped-one-ttl-once"),
        pytest.param(NOW - 3600, ResumePlan(Resume.SHIFT, 3600.0), id="long-outage-shifted-by-the-outage"),
        pytest.param(NOW - 10.5, ResumePlan(Resume.SHIFT, 10.5), id="just-over-two-intervals-shifted"),
        pytest.param(NOW - 10.0, ResumePlan(Resume.KEEP), id="exactly-two-intervals-kept"),
        pytest.param(NOW - 4.0, ResumePlan(Resume.KEEP), id="another-controller-alive-kept"),
        pytest.param(NOW, ResumePlan(Resume.KEEP), id="stamped-right-now-kept"),
        pytest.param(NOW + 30, ResumePlan(Resume.KEEP), id="stamp-in-the-future-clock-stepped-back-kept"),
    ],
)
def test_resume_plan(alive_at: float | None, expected: ResumePlan) -> None:
    assert resume_plan(alive_at, NOW, INTERVAL) == expected


def test_the_threshold_follows_the_reaper_interval() -> None:
    assert resume_plan(NOW - 3, NOW, 1.0) == ResumePlan(Resume.SHIFT, 3.0)
    assert resume_plan(NOW - 3, NOW, 2.0) == ResumePlan(Resume.KEEP)
