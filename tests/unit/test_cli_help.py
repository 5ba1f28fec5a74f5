"""Every `hubnet` command renders its `--help`: typer renders help text as rich markup, so a `[…]` in a help string
(e.g. `PORT[/tcp]`) crashes it with a MarkupError — and `tests/e2e` finds the commands it needs by `--help`."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from hubnet.cli import build

APP = build()
CLI = typer.main.get_command(APP)


def _paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        found.extend(_paths(sub, (*prefix, name)))
    return found


@pytest.mark.parametrize("path", _paths(CLI), ids=lambda p: " ".join(p) or "hubnet")
def test_help_renders(path: tuple[str, ...]) -> None:
    done = CliRunner().invoke(APP, [*path, "--help"], terminal_width=100)
    assert done.exit_code == 0, f"hubnet {' '.join(path)} --help: {done.output[-500:]} {done.exception!r}"
    assert "Usage" in done.output
