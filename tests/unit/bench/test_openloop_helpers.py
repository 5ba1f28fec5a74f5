"""bench/openloop.py's pure helpers: the arrival schedules, the node bodies, the send-rate check. No namespaces, no
processes."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from bench import openloop


def test_fixed_arrivals_are_evenly_spaced() -> None:
    offsets = openloop.arrivals("fixed", 100.0, 2.0, seed=1)
    assert len(offsets) == 200
    assert offsets[0] == 0.0
    assert offsets[1] == pytest.approx(0.01)
    assert offsets[-1] == pytest.approx(1.99)


def test_poisson_arrivals_are_seeded_and_near_the_rate() -> None:
    first = openloop.arrivals("poisson", 200.0, 10.0, seed=3)
    assert first == openloop.arrivals("poisson", 200.0, 10.0, seed=3)
    assert first != openloop.arrivals("poisson", 200.0, 10.0, seed=4)
    assert first == sorted(first) and first[0] == 0.0 and first[-1] < 10.0
    assert 1800 < len(first) < 2200  # 2,000 expected, sd ~45


def test_node_bodies_are_distinct_and_on_the_lan() -> None:
    bodies = [openloop.node_body("x", i) for i in range(300)]
    assert len({b["name"] for b in bodies}) == len({b["address"] for b in bodies}) == 300
    assert len({b["secret"] for b in bodies}) == 300
    assert all(IPv4Address(b["address"]) in IPv4Network("192.168.0.0/16") for b in bodies)
    assert bodies[0]["address"] == "192.168.1.0"
    with pytest.raises(ValueError):
        openloop.node_body("x", 65_000)


def test_send_figures_check_the_achieved_rate() -> None:
    on_time = [openloop.Sent(scheduled=i / 100, sent=i / 100 + 0.001) for i in range(101)]
    figures = openloop.send_figures(on_time, 100.0)
    assert figures["rate_achieved"] == pytest.approx(100.0)
    assert figures["rate_ok"] is True
    assert figures["send_lateness"]["p50_ms"] == pytest.approx(1.0)
    # the client fell behind: the last half went out at half the pace
    slow = [openloop.Sent(scheduled=i / 100, sent=i / 100 if i < 50 else 0.5 + (i - 50) / 50) for i in range(101)]
    figures = openloop.send_figures(slow, 100.0)
    assert figures["rate_ok"] is False
    assert figures["send_lateness"]["max_ms"] == pytest.approx(500.0)
