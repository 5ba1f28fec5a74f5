"""The agent's configuration from `join`'s flags, saved for `leave` and loaded back (hubnet/node/agent/config.py)."""

from __future__ import annotations

import json
import os
from ipaddress import IPv4Address, IPv4Network, IPv6Network
from pathlib import Path

import pytest

from hubnet.node.agent import cniconf
from hubnet.node.agent.config import AgentConfig, join_config, load_saved, save

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
        routers=(IPv4Address("192.168.1.1"),),
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
    assert config.fixed_subnets == (IPv4Network("10.244.7.0/24"),)
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


@pytest.mark.parametrize("packaged", [True, False], ids=["compiled", "package-without-it"])
def test_install_plugin_copies_what_the_package_carries(tmp_path: Path, packaged: bool) -> None:
    binary = tmp_path / "pkg" / "hubnet-cni"
    binary.parent.mkdir()
    binary.write_bytes(b"\x7fELF fake")
    binary.chmod(0o755 if packaged else 0o644)  # not executable: as good as absent
    config = AgentConfig(name="n", address=IPv4Address("10.0.0.1"), state_dir=str(tmp_path / "s"),
                         cni_bin_dir=str(tmp_path / "bin"))  # fmt: skip
    old = tmp_path / "s" / "plugin"  # the run-time compile cache of older agents
    old.mkdir(parents=True)
    (old / "hubnet-shim").write_text("old")
    assert cniconf.install_plugin(config, str(binary)) == str(tmp_path / "bin" / "hubnet")
    installed = (tmp_path / "bin" / "hubnet").read_bytes()
    if packaged:
        assert installed == b"\x7fELF fake" and (tmp_path / "bin" / "hubnet-shim").read_text().startswith("#!")
    else:
        assert installed.startswith(b"#!") and not (tmp_path / "bin" / "hubnet-shim").exists()
    assert os.access(tmp_path / "bin" / "hubnet", os.X_OK) and not old.exists()


def test_address_and_router_take_one_per_family_ipv4_first(tmp_path: Path) -> None:
    config = join_config(
        **{**FLAGS, "address": "fd00:1::11, 192.168.1.11", "router": "fd00:1::1,192.168.1.1"},
        state_dir=str(tmp_path),
    )
    assert config.address == IPv4Address("192.168.1.11")  # the primary: what `address` is registered as
    assert [str(a) for a in config.underlay] == ["192.168.1.11", "fd00:1::11"]
    assert [str(r) for r in config.routers] == ["192.168.1.1", "fd00:1::1"]
    save(config)
    loaded = load_saved(str(tmp_path))
    assert (loaded.address, loaded.addresses, loaded.routers) == (config.address, config.addresses, config.routers)
    v6 = join_config(**{**FLAGS, "address": "fd00:1::11"}, state_dir="/s")
    assert str(v6.address) == "fd00:1::11" and v6.underlay == (v6.address,)


def test_fixed_subnets_of_both_families() -> None:
    config = join_config(
        **{**FLAGS, "controller": "", "token": ""}, state_dir="/s",
        fixed_subnet="fd00:10:244:7::/64,10.244.7.0/24", cluster_cidrs=["fd00:10:244::/56,10.244.0.0/16"],
    )  # fmt: skip
    assert [str(s) for s in config.fixed_subnets] == ["10.244.7.0/24", "fd00:10:244:7::/64"]
    assert [str(c) for c in config.fixed_cluster_cidrs] == ["10.244.0.0/16", "fd00:10:244::/56"]


@pytest.mark.parametrize(
    "bad",
    [
        {"address": "192.168.1.11,192.168.1.12"},
        {"router": "fd00::1,fd00::2"},
        {"fixed_subnet": "10.1.0.0/24,10.2.0.0/24"},
    ],
)
def test_two_of_one_family_is_a_value_error(bad: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="at most one per address family"):
        join_config(**{**FLAGS, **bad}, state_dir="/s")


def test_a_dual_stack_conflist_names_both_stores(tmp_path: Path) -> None:
    config = AgentConfig(name="n", address=IPv4Address("10.0.0.1"), state_dir=str(tmp_path))
    single = cniconf.conflist(config, [IPv4Network("10.244.7.0/24")])
    assert "subnets" not in single["plugins"][0] and "ipamDirs" not in single["plugins"][0]  # type: ignore[index]
    dual = cniconf.conflist(config, [IPv4Network("10.244.7.0/24"), IPv6Network("fd00:10:244:7::/64")])
    plugin = dual["plugins"][0]  # type: ignore[index]
    assert plugin["subnet"] == "10.244.7.0/24" and plugin["ipamDir"] == str(tmp_path / "ipam" / "10.244.7.0_24")
    assert plugin["ipamDirs"] == [
        str(tmp_path / "ipam" / "10.244.7.0_24"),
        str(tmp_path / "ipam" / "fd00:10:244:7::_64"),
    ]


def test_several_controllers_round_trip_in_order(tmp_path: Path) -> None:
    urls = "https://10.0.0.1:6780, https://10.0.0.2:6780/,https://10.0.0.1:6780"  # a duplicate is dropped
    config = join_config(**{**FLAGS, "controller": urls}, state_dir=str(tmp_path))
    assert config.controller == "https://10.0.0.1:6780"  # what everything reading one URL keeps reading
    assert config.controller_urls == ("https://10.0.0.1:6780", "https://10.0.0.2:6780")
    save(config)
    assert load_saved(str(tmp_path)).controller_urls == config.controller_urls
    one = join_config(**FLAGS, state_dir=str(tmp_path))
    assert (one.controllers, one.controller_urls) == ((), ("https://10.0.0.1:6780",))


def test_a_saved_config_of_one_controller_from_before_replicas_loads(tmp_path: Path) -> None:
    (tmp_path / "agent.json").write_text(json.dumps({"controller": "http://c1:6780", "name": "n1"}))
    assert load_saved(str(tmp_path)).controller_urls == ("http://c1:6780",)


def test_a_controller_that_is_not_a_url_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="is not an http:// or https:// URL"):
        join_config(**{**FLAGS, "controller": "https://c1,10.0.0.1:6780"}, state_dir="/s")
