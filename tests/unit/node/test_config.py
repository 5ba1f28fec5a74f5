"""The agent's configuration from `join`'s flags, saved for `leave` and loaded back (node_client/agent/config.py)."""

from __future__ import annotations

import json
import os
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from node_client.agent.config import AgentConfig, join_config, load_saved, save

FLAGS = {
    "controller": "https://10.0.0.1:6780",
    "token": "secret-token",
    "name": "n1",
    "address": "192.168.1.11",
    "router": "",
    "bridge": "v-net-0",
    "cni_conf_dir": "/etc/cni/net.d",
    "cni_bin_dir": "/opt/cni/bin",
    "ca_file": "ca.pem",
}


def test_join_flags_round_trip_through_agent_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = join_config(**{**FLAGS, "router": "192.168.1.1"}, state_dir=str(tmp_path / "state"))
    saved = json.loads(Path(save(config)).read_text())
    assert "token" not in saved and saved["ca_file"] == str(tmp_path / "ca.pem")  # absolute: `leave` runs elsewhere
    loaded = load_saved(config.state_dir)
    assert loaded == AgentConfig(
        name="n1",
        address=IPv4Address("192.168.1.11"),
        controller="https://10.0.0.1:6780",
        ca_file=str(tmp_path / "ca.pem"),
        router=IPv4Address("192.168.1.1"),
        state_dir=config.state_dir,
    )
    assert load_saved(config.state_dir, ca_file="/other.pem").ca_file == "/other.pem"  # leave --ca-file overrides


def test_test_seam_flags() -> None:
    config = join_config(
        **{**FLAGS, "controller": "", "token": "", "name": "", "address": "", "ca_file": ""},
        state_dir="/s",
        fixed_subnet="10.244.7.0/24",
        cluster_cidrs=["10.244.0.0/16"],
    )
    assert (config.name, config.address, config.ca_file) == ("node", IPv4Address("0.0.0.0"), None)
    assert config.fixed_subnet == IPv4Network("10.244.7.0/24")
    assert config.fixed_cluster_cidrs == (IPv4Network("10.244.0.0/16"),)


@pytest.mark.parametrize(
    "bad",
    [{"address": "192.168.1"}, {"router": "router.local"}, {"fixed_subnet": "10.244.7.1/24"}],
    ids=["address", "router", "subnet-not-a-network"],
)
def test_a_bad_flag_is_a_value_error(bad: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        join_config(**{**FLAGS, **bad}, state_dir="/s")


def test_a_node_that_never_joined_has_no_saved_config(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_saved(str(tmp_path))
    assert not os.listdir(tmp_path)
