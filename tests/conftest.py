"""Shared test configuration. Tier fixtures live in each tier's own conftest."""

from __future__ import annotations

import pytest

from tests.support.netns import del_netns, leftover_netns


@pytest.fixture(scope="session", autouse=True)
def _no_leftover_namespaces() -> object:
    """Sweep this run's namespaces at the end: tests must remove their own, this is only the safety net."""
    yield
    for name in leftover_netns():
        del_netns(name)
