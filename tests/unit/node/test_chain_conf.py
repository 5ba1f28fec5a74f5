"""`--cni-chain`, the chained conflist and the runtime's capability arguments (issue 15)."""

from __future__ import annotations

import json
import os
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest
import typer

from hubnet.cli.node import KUBELET_BURST, _capability_args
from hubnet.node.agent import cniconf
from hubnet.node.agent.config import AgentConfig, parse_chain
from hubnet.node.cnilib.skel import SUPPORTED_VERSIONS


def test_parse_chain() -> None:
    assert parse_chain("portmap,bandwidth") == ("portmap", "bandwidth")
    assert parse_chain("bandwidth") == ("bandwidth",)
    assert parse_chain("none") == () == parse_chain("")
    with pytest.raises(ValueError, match="flannel is not one of"):
        parse_chain("portmap,flannel")
    with pytest.raises(ValueError, match="twice"):
        parse_chain("portmap,portmap")


def _fake_plugin(path: Path, versions: list[str]) -> None:
    answer = json.dumps({"cniVersion": "1.0.0", "supportedVersions": versions})
    path.write_text(f"#!/bin/sh\necho '{answer}'\n")
    path.chmod(0o755)


def test_the_chain_is_what_the_bin_dir_holds_and_versions_all_plugins_speak(tmp_path: Path) -> None:
    config = AgentConfig(name="n", address=IPv4Address("10.0.0.1"), state_dir=str(tmp_path), cni_bin_dir=str(tmp_path))
    subnets = [IPv4Network("10.244.7.0/24")]
    assert cniconf.find_chain(config) == []  # neither is there: hubnet alone, every version
    alone = cniconf.conflist(config, subnets)
    assert len(alone["plugins"]) == 1 and alone["cniVersions"] == list(SUPPORTED_VERSIONS)  # type: ignore[arg-type]

    _fake_plugin(tmp_path / "portmap", ["0.3.1", "0.4.0", "1.0.0"])
    (tmp_path / "bandwidth").write_text("not a plugin")  # not executable: left out
    chain = cniconf.find_chain(config)
    assert [n for n, _ in chain] == ["portmap"]
    conf = cniconf.conflist(config, subnets, chain)
    assert conf["cniVersions"] == ["0.3.1", "0.4.0", "1.0.0"] and conf["cniVersion"] == "1.0.0"
    assert conf["plugins"][1] == {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}  # type: ignore[index]

    os.unlink(tmp_path / "bandwidth")
    _fake_plugin(tmp_path / "bandwidth", ["9.9.9"])  # no version in common: left out
    assert [n for n, _ in cniconf.find_chain(config)] == ["portmap"]
    none = AgentConfig(name="n", address=IPv4Address("10.0.0.1"), cni_bin_dir=str(tmp_path), cni_chain=())
    assert cniconf.find_chain(none) == []


def test_capability_args() -> None:
    assert _capability_args([], 0, 0, 0, 0) == {}
    args = _capability_args(["8080:80", "53:5353/udp"], 1000, 0, 0, 0)
    assert args["portMappings"] == [
        {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
        {"hostPort": 53, "containerPort": 5353, "protocol": "udp"},
    ]
    assert args["bandwidth"] == {"ingressRate": 1000, "ingressBurst": KUBELET_BURST}
    with pytest.raises(typer.BadParameter):
        _capability_args(["80"], 0, 0, 0, 0)
