"""A second interface (Multus-style `--ifname net1`) neither takes nor removes the primary's default route.

The reference bridge plugin installs a default route only with `isDefaultGateway`; hubnet's ADD installs one only
when the pod netns has none yet (create-exclusive: an existing default route makes the attachment secondary).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.netns.node.support import HUBNET, Node, nsrun

pytestmark = pytest.mark.netns


def _pod(node: Node, *args: str) -> subprocess.CompletedProcess[str]:
    dirs = ["--state-dir", os.path.join(node.root, "runtime"), "--cni-conf-dir", node.conf, "--cni-bin-dir", node.bin]
    return subprocess.run([HUBNET, "node", "pod", *args, *dirs], capture_output=True, text=True, timeout=60)


def _ok(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def _defaults(pod: str) -> list[str]:
    """The pod's default routes as `via GW dev IF`."""
    lines = nsrun(pod, "ip", "-4", "-o", "route", "show", "default").stdout.splitlines()
    return [" ".join(line.split()[1:5]) for line in lines]


def test_secondary_interface_keeps_the_primary_default_route(node: Node) -> None:
    pod = node.new_pod_netns()
    try:
        first = json.loads(_ok(_pod(node, "add", "db", "--netns", pod)))
        assert first["routes"] == [{"dst": "0.0.0.0/0", "gw": "10.244.7.1"}]
        assert _defaults(pod) == ["via 10.244.7.1 dev eth0"]
        _ok(_pod(node, "check", "db", "--netns", pod))

        second = json.loads(_ok(_pod(node, "add", "db2", "--netns", pod, "--ifname", "net1")))
        assert second["routes"] == []  # the result does not claim a default route it did not install
        assert _defaults(pod) == ["via 10.244.7.1 dev eth0"]
        _ok(_pod(node, "check", "db", "--netns", pod))
        _ok(_pod(node, "check", "db2", "--netns", pod, "--ifname", "net1"))

        _ok(_pod(node, "del", "db2", "--netns", pod, "--ifname", "net1"))
        assert _defaults(pod) == ["via 10.244.7.1 dev eth0"]
        _ok(_pod(node, "check", "db", "--netns", pod))
    finally:
        _pod(node, "del", "db2", "--netns", pod, "--ifname", "net1")
        _pod(node, "del", "db", "--netns", pod)
    assert node.reservations() == [] and node.host_veths() == []


def test_check_of_the_primary_fails_when_its_default_route_moved(node: Node) -> None:
    """CHECK verifies what ADD installed: the primary's default route out of *its* interface, not any default."""
    pod = node.new_pod_netns()
    try:
        _ok(_pod(node, "add", "p1", "--netns", pod))
        _ok(_pod(node, "add", "p2", "--netns", pod, "--ifname", "net1"))
        nsrun(pod, "ip", "route", "replace", "default", "via", "10.244.7.1", "dev", "net1")
        bad = _pod(node, "check", "p1", "--netns", pod)
        assert bad.returncode == 1 and json.loads(bad.stderr)["code"] == 103, bad.stderr
        _ok(_pod(node, "check", "p2", "--netns", pod, "--ifname", "net1"))
    finally:
        _pod(node, "del", "p2", "--netns", pod, "--ifname", "net1")
        _pod(node, "del", "p1", "--netns", pod)
    assert node.reservations() == [] and node.host_veths() == []
