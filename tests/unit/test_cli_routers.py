"""`hubnet routers list`: how the table shows the age of a router's last report."""

from __future__ import annotations

import pytest

from hubnet.cli.routers import age, row


@pytest.mark.parametrize(
    ("then", "shown"),
    [
        (None, "never"),
        (1000.0, "0.0s ago"),
        (999.6, "0.4s ago"),
        (1001.0, "0.0s ago"),  # a clock slightly ahead is "just now", never negative
        (988.0, "12s ago"),
        (1000.0 - 184, "3m04s ago"),
        (1000.0 - 7500, "2h05m ago"),
    ],
)
def test_age(then: float | None, shown: str) -> None:
    assert age(then, 1000.0) == shown


def test_row_names_the_table_columns() -> None:
    shown = row({"name": "r1", "last_report_at": None, "route_count": 3, "last_error": "boom"}, 0.0)
    assert (shown["last_report"], shown["routes"], shown["error"]) == ("never", 3, "boom")
