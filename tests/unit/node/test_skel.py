"""The skel's pure validation, and the JSON helpers the plugin uses instead of `json`."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from typing import Any

import pytest

import hubnet
from hubnet.node.agent.result import add_result, prev_address
from hubnet.node.cni.shim import invoke
from hubnet.node.cnilib import fastjson, skel

BASE = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/n", "CNI_IFNAME": "eth0", "CNI_PATH": "/p"}
CONF = b'{"cniVersion": "1.0.0", "name": "hubnet", "type": "hubnet", "agentSocket": "/nonexistent/sock"}'


@pytest.mark.parametrize(
    ("env", "stdin", "code"),
    [
        ({"CNI_COMMAND": None}, CONF, 4),
        ({"CNI_CONTAINERID": ""}, CONF, 3),
        ({"CNI_CONTAINERID": "../x"}, CONF, 4),
        ({"CNI_IFNAME": "x" * 16}, CONF, 4),
        ({}, b"{", 6),
        ({}, b'{"cniVersion": "1.0.0", "name": "a/b", "agentSocket": "/nonexistent/sock"}', 7),
        ({}, b'{"cniVersion": "0.1.0", "name": "n", "agentSocket": "/nonexistent/sock"}', 1),
        ({"CNI_COMMAND": "NOPE"}, CONF, 4),
        ({}, CONF, 11),  # agent socket missing: try again later
        ({"CNI_COMMAND": "DEL"}, CONF, 7),  # agent down and no ipamDir to release from
    ],
)
def test_run_codes(env: dict[str, str | None], stdin: bytes, code: int) -> None:
    full = {k: v for k, v in {**BASE, **env}.items() if v is not None}
    status, output = invoke(full, io.BytesIO(stdin))
    out = json.loads(output)
    assert status == 1 and out["code"] == code, out
    assert set(out) == {"cniVersion", "code", "msg", "details"}


def test_version() -> None:
    status, output = invoke({"CNI_COMMAND": "VERSION"}, None)  # VERSION does not read stdin
    assert status == 0 and json.loads(output)["supportedVersions"] == list(skel.SUPPORTED_VERSIONS)


def test_unreadable_stdin_is_an_io_failure() -> None:
    status, output = invoke(BASE, None)
    assert status == 1 and json.loads(output)["code"] == skel.IO_FAILURE


@pytest.mark.parametrize("text", ['{"a": [1, 2.5, "x\\u00e9", null, true]}', "  [] ", '"s"', "{}"])
def test_fastjson_matches_json(text: str) -> None:
    assert fastjson.loads(text) == json.loads(text)
    value = json.loads(text)
    assert fastjson.dumps(value) == json.dumps(value, separators=(",", ":"))


@pytest.mark.parametrize("text", ["", "{", "[1] x", "nul"])
def test_fastjson_rejects_what_json_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        fastjson.loads(text)


@pytest.mark.parametrize(("version", "has_version"), [("0.3.1", True), ("0.4.0", True), ("1.0.0", False)])
def test_result_shape(version: str, has_version: bool) -> None:
    res = add_result(
        version,
        bridge=("br", "m0"),
        host=("veth1", "m1"),
        pod=("eth0", "m2", "/n"),
        ips=[("10.0.0.2/24", "10.0.0.1")],
    )
    assert ("version" in res["ips"][0]) is has_version
    assert res["interfaces"][res["ips"][0]["interface"]]["sandbox"] == "/n"
    assert prev_address({"prevResult": res}, "eth0") == "10.0.0.2/24"
    assert prev_address({}, "eth0") is None


def test_valid_attachments_accepts_both_keys() -> None:
    new = {"cni.dev/valid-attachments": [{"containerID": "a", "ifname": "eth0"}]}
    old = {"cni.dev/attachments": [{"containerID": "b", "ifname": "eth1"}]}
    assert skel.valid_attachments(new) == [("a", "eth0")]
    assert skel.valid_attachments(old) == [("b", "eth1")]
    assert skel.valid_attachments({}) == []


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(hubnet.__file__)))
HEAVY = ("os", "json", "re", "enum", "typing", "collections", "hubnet.node.cnilib.skel", "hubnet.node.cnilib.ipam")


def test_the_shims_forwarding_path_imports_nothing_heavy() -> None:
    """The plugin's start-up is on every pod's critical path: `os` alone is ~1 ms under `-IS`, `json` ~6 ms."""
    code = f"import sys; sys.path.insert(0, {ROOT!r}); import hubnet.node.cni.shim; print(' '.join(sys.modules))"
    loaded = subprocess.run([sys.executable, "-IS", "-c", code], capture_output=True, text=True, check=True).stdout
    assert set(HEAVY).isdisjoint(loaded.split()), loaded


@pytest.mark.parametrize(
    ("env", "status", "check"),
    [
        ({"CNI_COMMAND": "VERSION"}, 0, lambda out: out["supportedVersions"] == list(skel.SUPPORTED_VERSIONS)),
        (BASE, 1, lambda out: out["code"] == 11 and "/nonexistent/sock" in out["details"]),
        ({**BASE, "CNI_IFNAME": "é" * 16}, 1, lambda out: out["code"] == 4),  # non-ASCII decoded, too long
    ],
    ids=["version", "agent-down", "non-ascii"],
)
def test_the_shim_process(env: dict[str, str], status: int, check: Any) -> None:
    """`main()` as the runtime runs it: only the CNI_* variables are read, the answer goes to stdout."""
    code = f"import sys; sys.path.insert(0, {ROOT!r}); from hubnet.node.cni.shim import main; main()"
    proc = subprocess.run(
        [sys.executable, "-IS", "-c", code], input=CONF, env={**env, "PATH": "/bin"}, capture_output=True, timeout=30
    )
    assert proc.returncode == status and check(json.loads(proc.stdout)), proc
