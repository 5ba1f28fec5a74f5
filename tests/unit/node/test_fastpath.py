"""The plugin <-> agent format, the agent's answer to it, the translation of the agent's errors, and the build of
`fastshim.c`."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import threading
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from hubnet.linux.errors import LinuxError, NotFound
from node_client.agent import fastbuild, podnet
from node_client.agent.commands import Commands
from node_client.agent.config import AgentConfig
from node_client.agent.server import AgentSocketServer
from node_client.agent.state import NodeState
from node_client.cni.shim import invoke
from node_client.cnilib import ipam, skel, wire
from tests.support.prereq import need

ENV = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/n", "CNI_IFNAME": "eth0", "CNI_PATH": "/p"}
CONF = {"cniVersion": "1.0.0", "name": "hubnet", "type": "hubnet", "agentSocket": "/nonexistent/agent.sock"}


def test_raw_request_round_trip_keeps_only_cni_variables() -> None:
    env = {**ENV, "PATH": "/bin", "CNI_ARGS": "K=V;A=b=c"}
    decoded, stdin = wire.decode_request(wire.encode_request(env, b'{"x": "\\u0000"}'))
    assert decoded == {**ENV, "CNI_ARGS": "K=V;A=b=c"} and stdin == b'{"x": "\\u0000"}'


@pytest.mark.parametrize(
    "raw",
    [
        b"HNRAW1\nCNI_COMMAND=ADD",
        b"HNRAW1\nPATH=/bin\0\0{}",
        b"HNRAW1\nCNI_X\0\0",
        b"{}",
        b"HNRAW1\n" + b"CNI_A=1\0" * 65,
    ],
)
def test_malformed_raw_requests_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        wire.decode_request(raw)


@pytest.mark.parametrize("raw", [b"", b"0", b"x\n{}", b"-1\n", b"256\n", b" 1\n"])
def test_malformed_answers_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        wire.decode_answer(raw)


def test_answer_round_trip() -> None:
    assert wire.decode_answer(wire.encode_answer(7, b"a\nb")) == (7, b"a\nb")


def _server(tmp_path: Path, dispatch: Any) -> AgentSocketServer:
    return AgentSocketServer(str(tmp_path / "s" / "agent.sock"), dispatch)


@pytest.mark.parametrize(
    ("changes", "conf"),
    [
        ({"CNI_CONTAINERID": ""}, CONF),
        ({"CNI_IFNAME": "a" * 16}, CONF),
        ({"CNI_COMMAND": "BOGUS"}, CONF),
        ({}, {**CONF, "cniVersion": "9.9.9"}),
        ({}, {**CONF, "name": "bad/name"}),
        ({"CNI_NETNS": None}, CONF),
    ],
)
def test_agent_answers_invalid_invocations_exactly_like_the_shim(
    tmp_path: Path, changes: dict[str, str | None], conf: dict[str, Any]
) -> None:
    env = {k: v for k, v in {**ENV, **changes}.items() if v is not None}
    stdin = json.dumps(conf).encode()
    server = _server(tmp_path, lambda req: pytest.fail("dispatched an invalid request"))
    try:
        answer = server.answer(wire.encode_request(env, stdin))
    finally:
        server.server_close()
    assert answer == wire.encode_answer(*invoke(env, io.BytesIO(stdin)))  # the shim, its agent unreachable


def test_agent_dispatches_a_valid_invocation(tmp_path: Path) -> None:
    calls: list[skel.Request] = []

    def dispatch(req: skel.Request) -> Any:
        calls.append(req)
        return {"cniVersion": req.cni_version, "ips": []}

    server = _server(tmp_path, dispatch)
    try:
        ok = server.answer(wire.encode_request(ENV, json.dumps(CONF).encode()))
        bad = server.answer(b"HNRAW1\nnope")
        old = server.answer(json.dumps({"command": "ADD"}).encode())  # the JSON request of older shims
    finally:
        server.server_close()
    assert ok == b'0\n{"cniVersion":"1.0.0","ips":[]}'
    assert calls[0].container_id == "c1" and calls[0].netns == "/n" and calls[0].config == CONF
    for answer in (bad, old):
        assert answer.startswith(b"1\n") and json.loads(answer[2:])["code"] == skel.INTERNAL


def test_c_string_escapes_every_byte() -> None:
    text = 'a"b\\c\nd/é'
    literal = fastbuild.c_string(text)
    assert literal.startswith('"') and literal.endswith('"') and '"' not in literal[1:-1] and "\n" not in literal
    decoded = bytes(int(o, 8) for o in literal[2:-1].split("\\"))
    assert decoded == text.encode()


def test_no_compiler_means_no_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fastbuild.COMPILER_ENV, "")
    assert fastbuild.build(str(tmp_path), "/run/x.sock", "/x") is None
    monkeypatch.setenv(fastbuild.COMPILER_ENV, "/nonexistent/cc")
    assert fastbuild.build(str(tmp_path), "/run/x.sock", "/x") is None
    assert os.listdir(tmp_path) == []


def test_compiled_plugin_talks_to_an_agent_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Build for real, then run the binary against a real socket server: forwarded env + stdin, status, output."""
    monkeypatch.delenv(fastbuild.COMPILER_ENV, raising=False)
    need(fastbuild.find_compiler() is not None, "needs a C compiler (cc)")
    sock = str(tmp_path / "agent.sock")
    binary = fastbuild.build(str(tmp_path / "cache"), sock, "/nonexistent/fallback")
    assert binary is not None and fastbuild.build(str(tmp_path / "cache"), sock, "/nonexistent/fallback") == binary
    seen: list[bytes] = []
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock)
    listener.listen()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
            seen.append(data)
            conn.sendall(b"7\n" + b"y" * 100_000)

    worker = threading.Thread(target=serve)
    worker.start()
    big = b"x" * 300_000  # several reads on both sides
    env = {**ENV, "PATH": "/bin", "HOME": "/root"}
    proc = subprocess.run([binary], input=big, env=env, capture_output=True, timeout=30)
    worker.join(10)
    listener.close()
    assert proc.returncode == 7 and proc.stdout == b"y" * 100_000
    assert wire.decode_request(seen[0]) == (ENV, big)
    # agent unreachable and no fallback to run: a clean CNI error, not a crash
    os.unlink(sock)
    proc = subprocess.run([binary], input=b"{}", env=env, capture_output=True, timeout=30)
    assert proc.returncode == 1 and json.loads(proc.stdout)["code"] == 999
    shutil.rmtree(tmp_path / "cache")


@pytest.mark.parametrize(
    ("raised", "code", "msg"),
    [
        pytest.param(skel.CniError(11, "later"), 11, "later", id="cni-error-as-is"),
        pytest.param(ipam.Exhausted("no free address"), 100, "no free address", id="ipam-exhausted"),
        pytest.param(ipam.Duplicate("dup"), 101, "dup", id="ipam-duplicate"),
        pytest.param(podnet.InterfaceExists("eth0 exists"), 102, "eth0 exists", id="interface-exists"),
        pytest.param(NotFound("no veth"), 103, "no veth", id="netlink-not-found"),
        pytest.param(LinuxError("netlink said no"), 103, "netlink said no", id="netlink"),
        pytest.param(OSError("disk on fire"), skel.INTERNAL, "ADD failed: disk on fire", id="unexpected"),
    ],
)
def test_dispatch_is_the_one_translation_of_the_agents_errors(
    monkeypatch: pytest.MonkeyPatch, raised: Exception, code: int, msg: str
) -> None:
    commands = Commands(AgentConfig(name="n", address=IPv4Address("10.0.0.1")), NodeState())

    def fail(req: skel.Request) -> None:
        raise raised

    monkeypatch.setattr(commands, "cmd_add", fail)
    with pytest.raises(skel.CniError) as err:
        commands.dispatch(skel.Request("ADD", "c1", "/n", "eth0"))
    assert (err.value.code, err.value.msg) == (code, msg)
