"""The lab's lifecycle as a user drives it: up twice, down twice, up after down, down after a killed up, and
clear one-line errors (no traceback) when not root or when iproute2 is missing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest

from hubnet.lab.state import StateStore
from tests.e2e.conftest import (
    HUBNET,
    UP_TIMEOUT,
    check,
    hubnet,
    lab_name,
    lab_netns,
    need_lab,
    processes_mentioning,
    root_snapshot,
    status,
)
from tests.support.prereq import need, need_root_netns

pytestmark = [pytest.mark.e2e, pytest.mark.netns]


def test_up_twice_is_a_clear_error_and_touches_nothing(cleanup: list[str]) -> None:
    need_lab()
    name = lab_name("twice")
    cleanup.append(name)
    hubnet("lab", "up", "--name", name, "--nodes", "1", "--pods", "1", timeout=UP_TIMEOUT)
    before = (lab_netns(name), status(name))
    again = hubnet("lab", "up", "--name", name, "--nodes", "1", "--pods", "1", check=False)
    assert again.returncode == 1
    assert "already exists" in again.stderr and "Traceback" not in again.stderr + again.stdout
    assert (lab_netns(name), status(name)) == before
    assert check(name)[0] == 0


def test_down_twice_then_up_again(cleanup: list[str]) -> None:
    need_lab()
    name = lab_name("again")
    cleanup.append(name)
    snapshot = root_snapshot()
    hubnet("lab", "up", "--name", name, "--nodes", "2", "--pods", "1", timeout=UP_TIMEOUT)
    hubnet("lab", "down", "--name", name)
    hubnet("lab", "down", "--name", name)
    assert lab_netns(name) == [] and not StateStore(name).exists()
    hubnet("lab", "up", "--name", name, "--nodes", "2", "--pods", "1", "--ipv4-only", timeout=UP_TIMEOUT)
    code, report = check(name)
    assert (code, report["pairs_ok"], list(report["families"])) == (0, 2, ["4"])
    assert all(len(p["ips"]) == 1 for p in report["pods"])
    hubnet("lab", "down", "--name", name)
    assert root_snapshot() == snapshot


def test_down_after_up_was_killed_halfway(cleanup: list[str]) -> None:
    """SIGKILL `up` once the controller and agents run (before the pods are done): `down` still cleans all."""
    need_lab()
    name = lab_name("killed")
    cleanup.append(name)
    snapshot = root_snapshot()
    up = subprocess.Popen(
        [HUBNET, "lab", "up", "--name", name, "--nodes", "2", "--pods", "20"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    store = StateStore(name)
    pids = _wait_for_agents(store, up)
    up.send_signal(signal.SIGKILL)
    up.wait()
    assert lab_netns(name), "up was killed before it built anything: the test proves nothing"
    hubnet("lab", "down", "--name", name)
    assert lab_netns(name) == [] and not store.exists()
    assert [p for p in pids if os.path.exists(f"/proc/{p}") and _state(p) != "Z"] == []
    assert [p for p in processes_mentioning(str(store.dir)) if _state(p) not in ("Z", "gone")] == []
    assert root_snapshot() == snapshot


def _wait_for_agents(store: StateStore, up: subprocess.Popen[bytes]) -> list[int]:
    deadline = time.monotonic() + UP_TIMEOUT
    while time.monotonic() < deadline:
        state = store.load()
        if state and state.processes.get("agent-node-2") and any(state.node_pods.values()):
            return list(state.processes.values())
        assert up.poll() is None, "up finished or failed before it could be killed halfway"
        time.sleep(0.05)
    pytest.fail("up never got halfway")


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


@pytest.mark.parametrize("command", ["up", "down", "status", "check"])
def test_not_root_is_a_clear_error(command: str) -> None:
    need_root_netns()
    need(shutil.which("setpriv") is not None, "needs setpriv (util-linux) to drop root")
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", HUBNET, "lab", command, "--name", "nobody"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "needs root" in done.stderr and "Traceback" not in done.stderr


def test_missing_iproute2_is_a_clear_error() -> None:
    need_root_netns()
    done = subprocess.run(
        [HUBNET, "lab", "up", "--name", "noip"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": "/nonexistent"},
    )
    assert done.returncode == 1
    assert "iproute2" in done.stderr and "Traceback" not in done.stderr
    assert lab_netns("noip") == []


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["lab", "status", "--name", "absent"], id="status of a missing lab"),
        pytest.param(["lab", "check", "--name", "absent"], id="check of a missing lab"),
        pytest.param(["lab", "up", "--name", "Bad-Name"], id="bad name"),
        pytest.param(["lab", "up", "--name", "sizes", "--nodes", "0"], id="bad size"),
    ],
)
def test_bad_requests_are_one_line_errors(args: list[str]) -> None:
    need_root_netns()
    done = hubnet(*args, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert lab_netns("absent") == lab_netns("sizes") == []


def test_two_labs_coexist_and_down_removes_only_its_own(cleanup: list[str]) -> None:
    """Same underlay addresses, separate namespaces: both check green; taking one down leaves the other intact."""
    need_lab()
    first, second = lab_name("one"), lab_name("two")
    cleanup += [first, second]
    for name in (first, second):
        hubnet("lab", "up", "--name", name, "--nodes", "2", "--pods", "1", timeout=UP_TIMEOUT)
    assert check(first)[0] == check(second)[0] == 0
    kept = lab_netns(second)
    hubnet("lab", "down", "--name", first)
    assert lab_netns(first) == [] and lab_netns(second) == kept
    code, report = check(second)
    assert (code, report["pairs_ok"]) == (0, 4)  # 2 ordered pairs, over IPv4 and IPv6
