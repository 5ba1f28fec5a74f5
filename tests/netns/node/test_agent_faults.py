"""The agent under adverse conditions on its own node: an unwritable CNI bin dir, a second agent on the same state
dir, a client that never finishes its request."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.netns.node.support import HUBNET, Node, make_ns
from tests.support.prereq import need, need_root_netns

pytestmark = pytest.mark.netns
SHIM = os.path.join(os.path.dirname(HUBNET), "hubnet-cni")


@pytest.fixture
def bare_node() -> Iterator[Node]:
    """A node namespace and directories, no agent started yet."""
    need_root_netns()
    need(shutil.which("nft") is not None, "needs nftables (`nft`)")
    node = Node(subnet="10.244.11.0/24")
    node.ns = make_ns("node")
    try:
        yield node
    finally:
        node.destroy()


def _status(node: Node) -> tuple[int, dict[str, object]]:
    """STATUS straight to the agent's socket through the Python shim (works before any conflist exists)."""
    sock = os.path.join(node.state, "agent.sock")
    conf = json.dumps({"cniVersion": "1.1.0", "name": "hubnet", "type": "hubnet", "agentSocket": sock})
    env = {"CNI_COMMAND": "STATUS", "CNI_PATH": "/x"}
    proc = subprocess.run([SHIM], input=conf.encode(), env=env, capture_output=True, timeout=30)
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}


def test_unwritable_cni_bin_dir_keeps_the_agent_running_not_ready_then_ready(bare_node: Node) -> None:
    """Installing the plugin fails with an OSError (the bin dir's path is a regular file): the agent does not die,
    STATUS says why it is not ready, and once the path is usable it becomes ready on its own."""
    node = bare_node
    os.makedirs(node.root, exist_ok=True)
    with open(node.bin, "w") as f:  # the CNI bin dir cannot be created
        f.write("not a directory\n")
    node.start_agent(wait=False)
    deadline = time.monotonic() + 20
    while True:
        assert node.proc is not None and node.proc.poll() is None, node.log()
        if os.path.exists(os.path.join(node.state, "agent.sock")):
            code, out = _status(node)
            if code != 0 and "cannot install the CNI plugin" in str(out.get("details")):
                assert out["code"] == 50, out
                break
        assert time.monotonic() < deadline, node.log()
        time.sleep(0.1)
    time.sleep(1.0)
    assert node.proc.poll() is None, node.log()
    os.unlink(node.bin)
    node.wait_listening(timeout=20)  # retried with back-off: plugin and conflist written
    node.wait_ready()


def test_a_second_agent_on_the_same_state_dir_exits_with_a_clear_error(fresh_node: Node) -> None:
    node = fresh_node
    second = subprocess.run(node.agent_args(), capture_output=True, text=True, timeout=60)
    assert second.returncode == 1, second.stdout + second.stderr
    assert "another hubnet agent" in second.stderr and node.state in second.stderr, second.stderr
    assert node.proc is not None and node.proc.poll() is None
    assert os.path.exists(os.path.join(node.state, "agent.sock"))  # the first agent's socket was left alone
    node.runtime.status()  # and it still answers


def test_sigterm_is_not_blocked_by_a_client_that_never_finishes(fresh_node: Node) -> None:
    node = fresh_node
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(os.path.join(node.state, "agent.sock"))
        client.sendall(b"HNRAW1\n")  # a request that never ends
        time.sleep(0.2)
        assert node.proc is not None
        started = time.monotonic()
        node.proc.send_signal(signal.SIGTERM)
        assert node.proc.wait(30) == 0, node.log()
        assert time.monotonic() - started < 15  # bounded by the 10 s request timeout
    finally:
        client.close()
