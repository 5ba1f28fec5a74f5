"""The runtime's launcher: a plugin runs through the argv prefix when there is one (the lab's `ip netns exec <node>`),
directly otherwise; ADD caches its result either way. A shell script stands in for the plugin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hubnet.node.runtime import PluginError, Runtime

# Prints a CNI result naming what the launcher set (LAUNCHED) and the command it ran; code 11 on request.
PLUGIN = """#!/bin/sh
cat >/dev/null
if [ "$CNI_CONTAINERID" = busy ]; then echo '{"code": 11, "msg": "try again later"}'; exit 1; fi
printf '{"cniVersion": "1.0.0", "launched": "%s", "command": "%s"}' "${LAUNCHED:-no}" "$CNI_COMMAND"
"""


def _runtime(tmp_path: Path, launcher: tuple[str, ...]) -> Runtime:
    conf, bins = tmp_path / "conf", tmp_path / "bin"
    conf.mkdir()
    bins.mkdir()
    (conf / "10-fake.conflist").write_text(
        json.dumps({"cniVersion": "1.0.0", "name": "fake", "plugins": [{"type": "fake"}]})
    )
    plugin = bins / "fake"
    plugin.write_text(PLUGIN)
    plugin.chmod(0o755)
    return Runtime(str(tmp_path / "state"), str(conf), str(bins), launcher=launcher)


@pytest.mark.parametrize(
    ("launcher", "launched"),
    [
        pytest.param((), "no", id="no launcher: the plugin itself"),
        pytest.param(("env", "LAUNCHED=yes"), "yes", id="through the launcher"),
    ],
)
def test_add_runs_the_plugin_through_the_launcher_and_caches_the_result(
    tmp_path: Path, launcher: tuple[str, ...], launched: str
) -> None:
    runtime = _runtime(tmp_path, launcher)
    result = runtime.add("pod-1", "/run/netns/x")
    assert (result["launched"], result["command"]) == (launched, "ADD")
    assert runtime.cached("pod-1") == {
        "kind": "cniCacheV1",
        "containerId": "pod-1",
        "ifName": "eth0",
        "netns": "/run/netns/x",
        "result": result,
    }


def test_a_plugin_error_through_the_launcher_keeps_its_code(tmp_path: Path) -> None:
    with pytest.raises(PluginError) as caught:
        _runtime(tmp_path, ("env", "LAUNCHED=yes")).add("busy", "/run/netns/x")
    assert caught.value.code == 11
