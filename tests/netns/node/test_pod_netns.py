"""`hubnet node pod` and the namespaces it creates: `del` removes the netns `add` created whatever `--netns-prefix`
it is given; `add` run under `ip netns exec` (a mount namespace of its own) says why the agent cannot use it."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.netns.node.support import HUBNET, Node
from tests.support.netns import del_netns, netns

pytestmark = pytest.mark.netns


def _dirs(node: Node) -> list[str]:
    return ["--state-dir", os.path.join(node.root, "runtime"), "--cni-conf-dir", node.conf, "--cni-bin-dir", node.bin]


def _pod(node: Node, *args: str, under: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [*(under or []), HUBNET, "node", "pod", *args, *_dirs(node)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_del_removes_the_netns_add_created_whatever_the_prefix(node: Node) -> None:
    name = f"web{os.getpid()}"
    created = f"/var/run/netns/hnt-pod-{name}"
    try:
        add = _pod(node, "add", name, "--netns-prefix", "hnt-pod-")
        assert add.returncode == 0, add.stderr
        assert os.path.exists(created)
        gone = _pod(node, "del", name)  # no --netns-prefix: the cache entry knows which netns `add` created
        assert gone.returncode == 0, gone.stderr
        assert not os.path.exists(created)
        assert node.reservations() == [] and node.host_veths() == []
    finally:
        del_netns(f"hnt-pod-{name}")


def test_del_leaves_a_netns_it_was_given(node: Node) -> None:
    pod = node.new_pod_netns()
    name = f"given{os.getpid()}"
    assert _pod(node, "add", name, "--netns", pod).returncode == 0
    gone = _pod(node, "del", name, "--netns-prefix", "")
    assert gone.returncode == 0, gone.stderr
    assert os.path.exists(pod)  # the caller's namespace, not ours to remove
    assert node.reservations() == []


def test_add_under_ip_netns_exec_says_why_and_leaves_nothing(node: Node) -> None:
    """`ip netns exec` runs the command in a mount namespace of its own: a netns it creates under /var/run/netns
    is an empty file for the agent. ADD is refused as an invalid netns (8) with a hint, and everything is undone."""
    name = f"ex{os.getpid()}"
    with netns("exec") as runner:
        try:
            out = _pod(node, "add", name, "--netns-prefix", "hnt-pod-", under=["ip", "netns", "exec", runner])
            assert out.returncode == 1, out.stdout + out.stderr
            error, hint = out.stderr.strip().split("\n", 1)
            assert json.loads(error)["code"] == 8, error
            assert "not a network namespace" in error and "mount namespace" in error, error
            assert "ip netns exec" in hint and "nsenter" in hint, hint
            assert not os.path.exists(f"/var/run/netns/hnt-pod-{name}")
            assert node.reservations() == [] and node.host_veths() == []
        finally:
            del_netns(f"hnt-pod-{name}")
