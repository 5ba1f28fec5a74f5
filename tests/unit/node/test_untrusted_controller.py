"""The agent's answer to a controller that fails TLS verification: loud, every attempt, never a crash, and the
node's readiness is left as it was (a man in the middle must not be able to take the pods down)."""

from __future__ import annotations

import functools
import logging
import threading
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from hubnet.node.agent import agent as agent_module
from hubnet.node.agent.agent import Agent
from hubnet.node.agent.client import ControllerClient, UntrustedController
from hubnet.node.agent.config import AgentConfig


class ImpostorClient:
    """Every call fails the way the real client fails against a certificate our CA did not sign."""

    def __init__(self, stop: threading.Event, attempts: int) -> None:
        self.calls = 0
        self._stop, self._attempts = stop, attempts

    def register(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls >= self._attempts:
            self._stop.set()
        raise UntrustedController("POST /v1/nodes: refusing the controller at https://x: TLS handshake failed")

    def close(self) -> None:
        pass


def _config(tmp_path: Path, ca_file: str | None = None) -> AgentConfig:
    return AgentConfig(name="n1", address=IPv4Address("192.168.77.9"), controller="https://x", state_dir=str(tmp_path),
                       ca_file=ca_file)  # fmt: skip


def test_each_refused_attempt_is_logged_and_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(agent_module, "backoff", lambda failures, **_: 0.001)
    stop = threading.Event()
    client = ImpostorClient(stop, attempts=3)
    agent = Agent(_config(tmp_path), client_factory=lambda _url: client)  # type: ignore[arg-type,return-value]
    agent.state.update(None, ready=True, reason="", record={})  # ready from an earlier, verified answer
    with caplog.at_level(logging.ERROR, logger=agent_module.__name__):
        agent._sync_loop("s" * 64, stop)
    refusals = [r for r in caplog.records if "TLS handshake failed" in r.getMessage()]
    assert client.calls == 3 and len(refusals) == 3
    assert all(r.levelno == logging.ERROR for r in refusals)
    assert agent.state.snapshot()[1:] == (True, "")  # an unverified peer's "answer" changes nothing


def test_the_default_client_gets_the_ca_file(tmp_path: Path) -> None:
    factory = Agent(_config(tmp_path, ca_file="/etc/hubnet/ca.pem"))._client_factory
    assert isinstance(factory, functools.partial) and factory.func is ControllerClient
    assert factory.keywords == {"ca_file": "/etc/hubnet/ca.pem"}
