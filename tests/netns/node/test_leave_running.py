"""`hubnet node leave` while the agent runs is refused: the running agent would register again at once (new
generation, bridge rebuilt) with its conflist and plugin gone. Stop the agent first, then leave works."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from tests.netns.node.test_join import Cluster, _admin, _leave, _make_cluster, _torn_down

pytestmark = pytest.mark.netns


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    yield from _make_cluster("kernel")


def test_leave_is_refused_while_the_agent_runs(cluster: Cluster) -> None:
    node = cluster.add_node("n6", 56, 16)
    node.wait_ready()
    before = _admin(cluster, "GET", "/v1/nodes/n6")
    out = _leave(node)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "is running" in out.stderr and "stop the agent" in out.stderr, out.stderr
    assert "left" not in out.stdout
    after = _admin(cluster, "GET", "/v1/nodes/n6")  # still registered: the same record, not a new one
    assert after["state"] == "active" and after["generation"] == before["generation"], after
    assert os.path.exists(os.path.join(node.conf, "10-hubnet.conflist")) and os.path.exists(node.plugin)
    assert not _torn_down(node)
    node.wait_ready()  # the agent kept serving

    node.stop_agent(signal.SIGTERM)
    out = _leave(node)
    assert out.returncode == 0 and "left: deregistered" in out.stdout, out.stdout + out.stderr
    assert _torn_down(node)
