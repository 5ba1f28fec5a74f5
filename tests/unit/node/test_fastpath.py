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
from hubnet.node.agent import podnet
from hubnet.node.agent.commands import Commands
from hubnet.node.agent.config import AgentConfig
from hubnet.node.agent.server import AgentSocketServer
from hubnet.node.agent.state import NodeState
from hubnet.node.cni import fastbuild, shim
from hubnet.node.cni.shim import invoke
from hubnet.node.cnilib import ipam, skel, wire
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


def test_no_compiler_is_a_build_error_unless_opted_out(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(fastbuild.COMPILER_ENV, "/nonexistent/cc")
    assert fastbuild.find_compiler() is None and not fastbuild.opted_out()
    with pytest.raises(fastbuild.BuildError, match="no C compiler"):
        fastbuild.build(str(tmp_path / "hubnet-cni"))
    monkeypatch.setenv(fastbuild.COMPILER_ENV, "")
    assert fastbuild.find_compiler() is None and fastbuild.opted_out()
    assert os.listdir(tmp_path) == []


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> str:
    """fastshim.c compiled from the source as it is now, with a fallback `<plugin>-shim` that shows what it got."""
    need(fastbuild.find_compiler() is not None, "needs a C compiler (cc)")
    binary = fastbuild.build(str(tmp_path_factory.mktemp("bin") / "hubnet"))
    Path(f"{binary}-shim").write_text("#!/bin/sh\nprintf 'FALLBACK:'\ncat\n")
    os.chmod(f"{binary}-shim", 0o755)
    return binary


class _Agent:
    """A one-connection agent on a unix socket: records the request, sends `answer`."""

    def __init__(self, path: str, answer: bytes) -> None:
        self.seen: list[bytes] = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen()
        self.listener.settimeout(0.2)
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(answer,))
        self.thread.start()

    def _serve(self, answer: bytes) -> None:
        while not self.closing.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(10)
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
                self.seen.append(data)
                conn.sendall(answer)
            return

    def close(self) -> None:
        self.closing.set()
        self.thread.join(15)
        self.listener.close()


def test_compiled_plugin_talks_to_the_agent_socket_of_the_config(plugin: str, tmp_path: Path) -> None:
    """Forwarded env + stdin, the agent's status and output; the socket is the config's `agentSocket`."""
    sock = str(tmp_path / "agent.sock")
    agent = _Agent(sock, b"7\n" + b"y" * 100_000)
    big = json.dumps({**CONF, "agentSocket": sock, "pad": "x" * 300_000}).encode()  # several reads on both sides
    env = {**ENV, "PATH": "/bin", "HOME": "/root"}
    try:
        proc = subprocess.run([plugin], input=big, env=env, capture_output=True, timeout=30)
    finally:
        agent.close()
    assert proc.returncode == 7 and proc.stdout == b"y" * 100_000
    assert wire.decode_request(agent.seen[0]) == (ENV, big)


def test_compiled_plugin_without_its_fallback_is_a_clean_error(plugin: str, tmp_path: Path) -> None:
    lonely = str(tmp_path / "hubnet")
    shutil.copy(plugin, lonely)
    conf = json.dumps({**CONF, "agentSocket": str(tmp_path / "gone.sock")}).encode()
    proc = subprocess.run([lonely], input=conf, env=ENV, capture_output=True, timeout=30)
    assert proc.returncode == 1 and json.loads(proc.stdout)["code"] == 999, proc.stdout


DECOY = "/nonexistent/decoy.sock"


@pytest.mark.parametrize(
    ("config", "forwarded"),
    [
        pytest.param('{"agentSocket": "@SOCK@"}', True, id="plain"),
        pytest.param(' \n{ "name" : "hubnet" ,\t"agentSocket":"@SOCK@" } \n', True, id="whitespace"),
        pytest.param('{"prevResult": {"agentSocket": "@DECOY@"}, "agentSocket": "@SOCK@"}', True, id="nested-first"),
        pytest.param('{"agentSocket": "@SOCK@", "args": [{"agentSocket": "@DECOY@"}]}', True, id="nested-after"),
        pytest.param('{"agentSocket": "@DECOY@", "agentSocket": "@SOCK@"}', True, id="duplicate-last-wins"),
        pytest.param('{"agent\\u0053ocket": "@SOCK@"}', True, id="escaped-key"),
        pytest.param('{"agentSocket": "@ESCAPED@", "n": [1, -2.5e3, true, null, "\\"x\\""]}', True, id="escapes"),
        pytest.param('{"agentSocket": "@DECOY@", "x": {"agentSocket": "@SOCK@"}}', False, id="only-nested"),
        pytest.param('{"name": "hubnet"}', False, id="missing"),
        pytest.param('{"agentSocket": ""}', False, id="empty"),
        pytest.param('{"agentSocket": null}', False, id="null"),
        pytest.param('{"agentSocket": "@SOCK@", "agentSocket": 5}', False, id="last-not-a-string"),
        pytest.param('{"agentSocket": "/tmp/\\u00e9.sock"}', False, id="non-ascii-escape"),
        pytest.param('{"agentSocket": "/%s"}' % ("a" * 120), False, id="too-long"),
        pytest.param('{"agentSocket": "@SOCK@"} x', False, id="trailing-garbage"),
        pytest.param('{"agentSocket": "@SOCK@",}', False, id="trailing-comma"),
        pytest.param('["agentSocket", "@SOCK@"]', False, id="array"),
        pytest.param('{"agentSocket": "@SOCK@", "x": ' + "[" * 600 + "]" * 600 + "}", False, id="deep"),
        pytest.param('{"agentSocket": "@SOCK@"', False, id="truncated"),
        pytest.param("", False, id="empty-stdin"),
    ],
)
def test_compiled_plugin_reads_only_the_top_level_agent_socket(
    plugin: str, tmp_path: Path, config: str, forwarded: bool
) -> None:
    """What the C reader cannot take for certain goes to the Python shim (stdin replayed), never to another socket."""
    sock = str(tmp_path / "agent.sock")
    stdin = (
        config.replace("@SOCK@", sock).replace("@DECOY@", DECOY).replace("@ESCAPED@", sock.replace("/", "\\/")).encode()
    )
    agent = _Agent(sock, b"0\nFORWARDED")
    try:
        proc = subprocess.run([plugin], input=stdin, env=ENV, capture_output=True, timeout=30)
    finally:
        agent.close()
    if forwarded:
        assert proc.stdout == b"FORWARDED" and wire.decode_request(agent.seen[0])[1] == stdin
        assert shim.socket_path(stdin) == sock  # the Python shim reads the same socket
    else:
        assert proc.stdout == b"FALLBACK:" + stdin and agent.seen == []


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
