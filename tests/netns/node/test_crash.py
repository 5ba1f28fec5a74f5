"""kill -9 of the agent at each point of an ADD: DEL without prevResult, or GC, leaves nothing behind.

The issue asks for 20 runs per point; RUNS keeps the tier inside its time budget (raise it locally to soak).
"""

from __future__ import annotations

import os
import signal

import pytest

from hubnet.node.agent.faults import ADD_POINTS
from hubnet.node.runtime import PluginError
from tests.netns.node.support import Node

pytestmark = pytest.mark.netns
RUNS = int(os.environ.get("HUBNET_CRASH_RUNS", "2"))


def _crash_add(node: Node, point: str, cid: str) -> None:
    """Restart the agent armed with the fault, run one ADD (it dies mid-way), restart it clean."""
    node.stop_agent(signal.SIGKILL)
    node.start_agent(env={"HUBNET_FAULT": f"add:{point}"})
    with pytest.raises(PluginError):  # the runtime sees the connection drop: an I/O error, no result cached
        node.runtime.add(cid, node.new_pod_netns(), "eth0")
    assert node.proc is not None
    assert node.proc.wait(10) == -signal.SIGKILL
    node.start_agent()
    assert node.runtime.cached(cid) is None


@pytest.mark.parametrize("point", ADD_POINTS)
def test_del_without_prev_result_cleans_up_after_a_crash(fresh_node: Node, point: str) -> None:
    for run in range(RUNS):
        cid = f"crash-{run}"
        _crash_add(fresh_node, point, cid)
        fresh_node.runtime.delete(cid, netns="")  # no cache: DEL without prevResult (and without netns)
        assert fresh_node.reservations() == []
        assert fresh_node.host_veths() == []


@pytest.mark.parametrize("point", ADD_POINTS)
def test_gc_reclaims_a_crashed_add(fresh_node: Node, point: str) -> None:
    survivor = fresh_node.new_pod_netns()
    fresh_node.add("survivor", survivor)
    for run in range(RUNS):
        _crash_add(fresh_node, point, f"victim-{run}")
    fresh_node.runtime.gc([("survivor", "eth0")])
    assert len(fresh_node.reservations()) == 1
    assert len(fresh_node.host_veths()) == 1
    fresh_node.runtime.check("survivor")
    fresh_node.runtime.delete("survivor")


@pytest.mark.parametrize("point", ["after-veth", "after-move", "after-address"])
def test_a_failed_step_after_the_veth_is_undone_and_reported_as_103(fresh_node: Node, point: str) -> None:
    """A netlink failure (not a kill) after the veth exists: the agent removes the veth and the reservation
    itself and the runtime gets the link error (103), not 999."""
    fresh_node.stop_agent(signal.SIGKILL)
    fresh_node.start_agent(env={"HUBNET_FAULT": f"add:{point}:fail"})
    try:
        with pytest.raises(PluginError) as err:
            fresh_node.runtime.add("failing", fresh_node.new_pod_netns(), "eth0")
        assert err.value.code == 103 and "injected fault" in err.value.msg, (err.value, fresh_node.log())
        assert fresh_node.host_veths() == []
        assert fresh_node.reservations() == []
        assert fresh_node.proc is not None and fresh_node.proc.poll() is None  # the agent is still running
    finally:
        fresh_node.stop_agent()
        fresh_node.start_agent()
