"""The skel's pure validation, and the JSON helpers the plugin uses instead of `json`."""

from __future__ import annotations

import json

import pytest

from node_client.agent.result import add_result, prev_address
from node_client.cni.shim import run
from node_client.cnilib import fastjson, skel

BASE = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/n", "CNI_IFNAME": "eth0", "CNI_PATH": "/p"}
CONF = b'{"cniVersion": "1.0.0", "name": "hubnet", "type": "hubnet", "agentSocket": "/nonexistent/sock"}'


class _In:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        return self.data


@pytest.mark.parametrize(
    ("env", "stdin", "code"),
    [
        ({"CNI_COMMAND": None}, CONF, 4),
        ({"CNI_CONTAINERID": ""}, CONF, 3),
        ({"CNI_CONTAINERID": "../x"}, CONF, 4),
        ({"CNI_IFNAME": "x" * 16}, CONF, 4),
        ({}, b"{", 6),
        ({}, b'{"cniVersion": "1.0.0", "name": "a/b"}', 7),
        ({}, b'{"cniVersion": "0.1.0", "name": "n"}', 1),
        ({"CNI_COMMAND": "NOPE"}, CONF, 4),
        ({}, CONF, 11),  # agent socket missing: try again later
        ({"CNI_COMMAND": "DEL"}, CONF, 7),  # agent down and no ipamDir to release from
    ],
)
def test_run_codes(env: dict[str, str | None], stdin: bytes, code: int) -> None:
    full = {k: v for k, v in {**BASE, **env}.items() if v is not None}
    status, out = run(full, _In(stdin))
    assert status == 1 and out["code"] == code, out
    assert set(out) == {"cniVersion", "code", "msg", "details"}


def test_version() -> None:
    assert run({"CNI_COMMAND": "VERSION"}, _In(b""))[1]["supportedVersions"] == list(skel.SUPPORTED_VERSIONS)


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
        address="10.0.0.2/24",
        gateway="10.0.0.1",
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
