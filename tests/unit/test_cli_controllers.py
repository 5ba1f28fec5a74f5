"""`--controller` of `hubnet node join` and `hubnet router join` (hubnet/cli/controllers.py): repeatable, or
HUBNET_CONTROLLERS comma-separated; every controller reaches the agent, in order."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from hubnet.cli import router
from hubnet.cli.controllers import controller_list
from hubnet.cli.node import node_app


def test_flags_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBNET_CONTROLLERS", "http://e1,http://e2")
    assert controller_list(["http://c1", "http://c2,http://c3"]) == "http://c1,http://c2,http://c3"
    assert controller_list(None) == "http://e1,http://e2"
    monkeypatch.delenv("HUBNET_CONTROLLERS")
    assert controller_list([]) == ""


def hubnet() -> typer.Typer:
    """`hubnet` with the router group alone (a group of one command would otherwise collapse into it)."""
    app = typer.Typer()
    app.callback()(lambda: None)
    router.register(app)
    return app


class Captured:
    def __init__(self) -> None:
        self.configs: list[Any] = []

    def agent(self, config: Any, *_: Any, **__: Any) -> Any:
        self.configs.append(config)
        return self

    def run(self, stop: threading.Event) -> None:
        return None


def test_node_join_takes_every_controller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    captured = Captured()
    monkeypatch.setattr("hubnet.node.agent.agent.Agent", captured.agent)
    args = ["join", "--controller", "http://c1:6780", "--controller", "http://c2:6780", "--token", "t",
            "--name", "n1", "--address", "192.168.1.11", "--state-dir", str(tmp_path)]  # fmt: skip
    out = CliRunner().invoke(node_app, args)
    assert out.exit_code == 0, out.output
    assert captured.configs[0].controller_urls == ("http://c1:6780", "http://c2:6780")


def test_router_join_takes_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    captured = Captured()
    monkeypatch.setattr("hubnet.router.agent.RouterAgent", captured.agent)
    monkeypatch.setenv("HUBNET_CONTROLLERS", "http://c1:6780,http://c2:6780")
    out = CliRunner().invoke(hubnet(), ["router", "join", "--token", "t", "--name", "r1", "--state-dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert captured.configs[0].controllers == ("http://c1:6780", "http://c2:6780")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--token", "t", "--name", "r1"], "at least one controller"),
        (["--controller", "http://c1", "--name", "r1"], "--token"),
        (["--controller", "http://c1", "--token", "t", "--name", "R_1"], "--name"),
        (["--controller", "http://c1", "--token", "t", "--name", "r1", "--route-proto", "3"], "--route-proto"),
        (["--controller", "http://c1", "--token", "t", "--name", "r1", "--report-interval", "0"], "--report-interval"),
        (["--controller", "http://c1", "--token", "t", "--name", "r1", "--ca-file", "/nope.pem"], "https://"),
    ],
    ids=["no-controller", "no-token", "bad-name", "reserved-proto", "zero-interval", "ca-over-http"],
)
def test_router_join_refuses_bad_flags(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUBNET_CONTROLLERS", raising=False)
    monkeypatch.delenv("HUBNET_BOOTSTRAP_TOKEN", raising=False)
    out = CliRunner().invoke(hubnet(), ["router", "join", *args, "--state-dir", str(tmp_path)], env={"COLUMNS": "400"})
    assert out.exit_code == 2 and message in out.output, out.output
