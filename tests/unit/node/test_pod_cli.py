"""`hubnet node pod check|del` of an attachment the runtime cache does not have: a clear error naming it, not the
plugin's "CNI_NETNS missing" (check) or a silent no-op (del)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hubnet.cli.node import node_app


@pytest.fixture
def dirs(tmp_path: Path) -> list[str]:
    conf, bin_dir = tmp_path / "conf", tmp_path / "bin"
    conf.mkdir()
    bin_dir.mkdir()
    plugin = {"type": "hubnet", "subnet": "10.244.7.0/24"}
    (conf / "10-hubnet.conflist").write_text(json.dumps({"cniVersion": "1.0.0", "name": "hubnet", "plugins": [plugin]}))
    # a plugin that records that it ran: an unknown attachment must not reach it
    (bin_dir / "hubnet").write_text(f"#!/bin/sh\ntouch {tmp_path}/ran\n")
    (bin_dir / "hubnet").chmod(0o755)
    return ["--state-dir", str(tmp_path / "rt"), "--cni-conf-dir", str(conf), "--cni-bin-dir", str(bin_dir)]


@pytest.mark.parametrize("command", ["check", "del"])
@pytest.mark.parametrize("ifname", [[], ["--ifname", "net1"]], ids=["eth0", "net1"])
def test_an_unknown_attachment_is_named(dirs: list[str], command: str, ifname: list[str]) -> None:
    out = CliRunner().invoke(node_app, ["pod", command, "db2", *ifname, *dirs])
    name = "db2/net1" if ifname else "db2/eth0"
    assert out.exit_code == 1, out.output
    assert f"no attachment {name}" in out.output and "hubnet node pod list" in out.output, out.output
    assert "CNI_NETNS" not in out.output
    assert not (Path(dirs[1]).parent / "ran").exists()
