"""The pure resume rule: what a starting controller does to live leases, given when a controller was last alive:
shifted by the downtime less one reaper interval (the last controller may have lived that long after its stamp)."""

from __future__ import annotations

import pytest

from hubnet.server.domain.lease import Resume, ResumePlan, resume_plan

INTERVAL, NOW = 5.0, 1_000_000.0


@pytest.mark.parametrize(
    ("alive_at", "expected"),
    [
        pytest.param(None, ResumePlan(Resume.ONE_TTL), id="never-stamped-one-ttl-once"),
        pytest.param(
            NOW - 3600, ResumePlan(Resume.SHIFT, 3595.0), id="long-outage-shifted-by-the-outage-less-an-interval"
        ),
        pytest.param(NOW - 10.5, ResumePlan(Resume.SHIFT, 5.5), id="just-over-two-intervals-shifted-by-more-than-one"),
        pytest.param(NOW - 10.0, ResumePlan(Resume.KEEP), id="exactly-two-intervals-kept"),
        pytest.param(NOW - 4.0, ResumePlan(Resume.KEEP), id="another-controller-alive-kept"),
        pytest.param(NOW, ResumePlan(Resume.KEEP), id="stamped-right-now-kept"),
        pytest.param(NOW + 30, ResumePlan(Resume.KEEP), id="stamp-in-the-future-clock-stepped-back-kept"),
    ],
)
def test_resume_plan(alive_at: float | None, expected: ResumePlan) -> None:
    assert resume_plan(alive_at, NOW, INTERVAL) == expected


def test_the_threshold_and_the_shift_follow_the_reaper_interval() -> None:
    assert resume_plan(NOW - 3, NOW, 1.0) == ResumePlan(Resume.SHIFT, 2.0)
    assert resume_plan(NOW - 3, NOW, 2.0) == ResumePlan(Resume.KEEP)


@pytest.mark.parametrize("down", [2.01, 3.0, 4.5, 60.0])
def test_a_crash_loop_ages_leases_by_at_least_one_interval_per_start(down: float) -> None:
    """A controller that stamped at start and died before its next pass: each start gives back less than the time
    since that stamp, so leases age by one interval per crash cycle and a dead node is eventually released."""
    interval = 1.0
    plan = resume_plan(NOW - down, NOW, interval)
    assert plan.action is Resume.SHIFT
    assert down - plan.shift == pytest.approx(interval)
