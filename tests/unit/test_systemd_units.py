"""deploy/systemd/ (issue 15): `systemd-analyze verify` accepts every unit, each is hardened, and every command line
and HUBNET_* variable it names exists."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.prereq import need

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
NAMES = ["hubnet-controller.service", "hubnet-node.service", "hubnet-router.service"]
HUBNET = os.path.join(os.path.dirname(sys.executable), "hubnet")


def test_the_units_are_all_there() -> None:
    assert sorted(p.name for p in UNITS.glob("*.service")) == NAMES


def _settings(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


@pytest.mark.parametrize("name", NAMES)
def test_hardened(name: str) -> None:
    unit = _settings((UNITS / name).read_text())
    for key in ("CapabilityBoundingSet", "AmbientCapabilities", "StateDirectory"):
        assert unit.get(key), f"{name}: no {key}"
    assert unit["ProtectSystem"] == ["strict"] and unit["ProtectHome"] == ["yes"]
    assert unit["NoNewPrivileges"] == ["yes"] and unit["Restart"] == ["on-failure"] and unit["RestartSec"]
    bounding = set(unit["CapabilityBoundingSet"][0].split())
    assert set(unit["AmbientCapabilities"][0].split()) <= bounding  # ambient ones must be in the bounding set
    assert "CAP_SYS_ADMIN" not in bounding or name == "hubnet-node.service"  # only the node enters namespaces


@pytest.mark.parametrize("name", NAMES)
def test_systemd_analyze_verify(name: str, tmp_path: Path) -> None:
    """On a copy whose ExecStart names this checkout's `hubnet` (verify wants the program to exist)."""
    need(shutil.which("systemd-analyze") is not None, "needs systemd-analyze (the systemd package)")
    text = (UNITS / name).read_text().replace("/usr/local/bin/hubnet", HUBNET)
    (tmp_path / name).write_text(text)
    proc = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(tmp_path / name)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # verify also reports unrelated units of the host (a broken unit file elsewhere): only ours count
    ours = [line for line in proc.stderr.splitlines() if name in line]
    assert proc.returncode == 0 and not ours, proc.stderr


@pytest.mark.parametrize("name", NAMES)
def test_commands_and_variables_exist(name: str) -> None:
    from tests.unit.test_deploy import _command, _options, _reads

    unit = _settings((UNITS / name).read_text())
    (exec_start,) = unit["ExecStart"]
    words = exec_start.split()
    assert words[0] == "/usr/local/bin/hubnet"
    command, rest = _command(words[1:])
    options = {o for p in _options(command) for o in p.opts}
    assert {w for w in rest if w.startswith("--")} <= options, name
    reads = _reads(command, words[1:])
    documented = re.findall(r"#\s+(HUBNET_[A-Z_]+)=", (UNITS / name).read_text())
    for var in [*documented, *(v.split("=", 1)[0] for v in unit.get("Environment", []))]:
        assert var in reads, f"{name}: {var} is read by no program `{' '.join(words[1:3])}` runs"
