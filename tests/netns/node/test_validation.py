"""The plugin's argument validation, exactly as libcni's skel: each case its code and a valid error JSON."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from typing import Any

import pytest

from tests.netns.node.support import Node

pytestmark = pytest.mark.netns

GOOD = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "ctr1", "CNI_NETNS": "/var/run/netns/none", "CNI_IFNAME": "eth0"}


def _env(node: Node, **changes: str | None) -> dict[str, str]:
    env = {**GOOD, "CNI_PATH": node.bin, "PATH": "/usr/bin:/bin"}
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _conf(node: Node, **changes: Any) -> str:
    return json.dumps(node.plugin_config(**changes))


CASES: list[tuple[str, dict[str, str | None], Any, int]] = [
    ("no CNI_COMMAND", {"CNI_COMMAND": None}, None, 4),
    ("no CNI_CONTAINERID", {"CNI_CONTAINERID": None}, None, 4),
    ("no CNI_NETNS on ADD", {"CNI_NETNS": None}, None, 4),
    ("no CNI_IFNAME", {"CNI_IFNAME": None}, None, 4),
    ("no CNI_PATH", {"CNI_PATH": None}, None, 4),
    ("unknown command", {"CNI_COMMAND": "FROB"}, None, 4),
    ("container id ../x", {"CNI_CONTAINERID": "../x"}, None, 4),
    ("container id a/b", {"CNI_CONTAINERID": "a/b"}, None, 4),
    ("container id a:b", {"CNI_CONTAINERID": "a:b"}, None, 4),
    ("container id starts with .", {"CNI_CONTAINERID": ".x"}, None, 4),
    ("ifname 16 characters", {"CNI_IFNAME": "a" * 16}, None, 4),
    ("ifname a/b", {"CNI_IFNAME": "a/b"}, None, 4),
    ("ifname a:b", {"CNI_IFNAME": "a:b"}, None, 4),
    ("ifname .", {"CNI_IFNAME": "."}, None, 4),
    ("ifname ..", {"CNI_IFNAME": ".."}, None, 4),
    ("ifname with space", {"CNI_IFNAME": "a b"}, None, 4),
    ("bad JSON", {}, b"{not json", 6),
    ("JSON not an object", {}, b"[1, 2]", 6),
    ("missing network name", {}, {"name": ""}, 7),
    ("network name ../x", {}, {"name": "../x"}, 7),
    ("unsupported cniVersion", {}, {"cniVersion": "0.2.0"}, 1),
    ("future cniVersion", {}, {"cniVersion": "9.9.9"}, 1),
    ("CHECK at 0.3.1", {"CNI_COMMAND": "CHECK"}, {"cniVersion": "0.3.1"}, 1),
    ("GC at 1.0.0", {"CNI_COMMAND": "GC"}, {"cniVersion": "1.0.0"}, 1),
    ("STATUS at 1.0.0", {"CNI_COMMAND": "STATUS"}, {"cniVersion": "1.0.0"}, 1),
]


def _tree(root: str) -> list[str]:
    out = []
    for dirpath, _dirs, files in os.walk(root):
        out += [os.path.join(dirpath, f) for f in files]
    return sorted(out)


@pytest.mark.parametrize(("changes", "stdin", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_invocation_gets_exact_code(node: Node, changes: dict[str, str | None], stdin: Any, code: int) -> None:
    before = _tree(node.root)
    with tempfile.TemporaryDirectory(prefix="hnt-cwd-") as cwd:
        data = stdin if isinstance(stdin, bytes) else _conf(node, **(stdin or {}))
        status, out = node.exec_plugin(_env(node, **changes), data, cwd=cwd)
        assert os.listdir(cwd) == []
    assert status != 0
    assert isinstance(out, dict) and set(out) == {"cniVersion", "code", "msg", "details"}, out
    assert out["code"] == code, out
    assert out["msg"]
    assert _tree(node.root) == before, "an invalid call wrote files"
    assert node.reservations() == []


def test_empty_container_id_is_code_3(node: Node) -> None:
    status, out = node.exec_plugin(_env(node, CNI_CONTAINERID=""), _conf(node))
    assert status != 0 and out["code"] == 3, out
    assert set(out) == {"cniVersion", "code", "msg", "details"}


def test_missing_variables_are_named(node: Node) -> None:
    _, out = node.exec_plugin(_env(node, CNI_CONTAINERID=None, CNI_IFNAME=None), _conf(node))
    assert out["code"] == 4
    assert "CNI_CONTAINERID" in out["msg"] and "CNI_IFNAME" in out["msg"]


@pytest.mark.parametrize("how", ["write-only", "closed"])
def test_unreadable_stdin_is_code_5(node: Node, how: str) -> None:
    with tempfile.NamedTemporaryFile(prefix="hnt-stdin-") as tmp:
        fd = os.open(tmp.name, os.O_WRONLY)  # read() on it fails with EBADF
        try:
            if how == "write-only":
                proc = subprocess.run([node.plugin], stdin=fd, env=_env(node), capture_output=True, timeout=30)
            else:
                cmd = [node.plugin]
                proc = subprocess.run(
                    ["sh", "-c", 'exec "$0" <&-', *cmd], env=_env(node), capture_output=True, timeout=30
                )
        finally:
            os.close(fd)
    out = json.loads(proc.stdout)
    assert proc.returncode != 0 and out["code"] == 5, out


def test_version_answers_locally(node: Node) -> None:
    status, out = node.exec_plugin({"CNI_COMMAND": "VERSION"}, b"")
    assert status == 0
    assert out == {"cniVersion": "1.1.0", "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]}


def test_error_carries_config_version(node: Node) -> None:
    _, out = node.exec_plugin(_env(node, CNI_IFNAME="a" * 16), _conf(node, cniVersion="0.4.0"))
    assert out["cniVersion"] == "0.4.0" and out["code"] == 4


@pytest.mark.parametrize("which", ["missing", "the node's own"])
def test_bad_netns_on_add_is_code_8(node: Node, which: str) -> None:
    assert node.proc is not None
    netns = "/nonexistent/netns" if which == "missing" else f"/proc/{node.proc.pid}/ns/net"
    status, out = node.exec_plugin(_env(node, CNI_NETNS=netns), _conf(node))
    assert status != 0 and out["code"] == 8, out
    assert node.reservations() == []


@pytest.mark.parametrize(
    "prev",
    [
        {"ips": [{"address": "10.244.7.300/24"}]},
        {"interfaces": ["eth0"], "ips": [{"address": "10.244.7.2/24", "interface": 0}]},
        "not a result",
    ],
)
def test_malformed_prev_result_on_check_is_code_6_naming_it(node: Node, prev: Any) -> None:
    pod = node.new_pod_netns()
    node.add("prevbad", pod)
    try:
        env = _env(node, CNI_COMMAND="CHECK", CNI_CONTAINERID="prevbad", CNI_NETNS=pod)
        status, out = node.exec_plugin(env, _conf(node, prevResult=prev))
        assert status != 0 and out["code"] == 6 and "prevResult" in out["msg"], out
    finally:
        node.runtime.delete("prevbad")
