"""`hubnet bgp peers`: how the table shows a session's uptime."""

from __future__ import annotations

import pytest

from hubnet.cli.bgp import uptime


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "-"), (0, "0s"), (59.9, "59s"), (60, "1m00s"), (3599, "59m59s"), (3600, "1h00m00s"), (90061, "1d01h01m")],
)
def test_uptime(seconds: float | None, shown: str) -> None:
    assert uptime(seconds) == shown
