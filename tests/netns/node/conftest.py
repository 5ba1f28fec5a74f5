"""Node-tier fixtures: a node namespace with the real agent process (fixed subnet, no controller)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.netns.node.support import Node
from tests.support.prereq import need, need_root_netns

pytestmark = pytest.mark.netns


def _make(subnet: str) -> Iterator[Node]:
    need_root_netns()
    need(shutil.which("nft") is not None, "needs nftables (`nft`)")
    node = Node(subnet=subnet)
    try:
        node.create()
        yield node
    finally:
        node.destroy()


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    """One agent per test module; tests delete what they add."""
    yield from _make("10.244.7.0/24")


@pytest.fixture
def fresh_node() -> Iterator[Node]:
    """An agent of its own, for tests that kill or restart it."""
    yield from _make("10.244.9.0/24")
