"""The BGP lab's pure parts (`--router bird|frr`): where the controller goes, what it is told, the peer the lab
posts, the routes the router must install, the state file and the status keys. No namespaces, no processes."""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from pathlib import Path

import pytest

from hubnet.lab import bgplab, members
from hubnet.lab.plan import PlanError, make_plan
from hubnet.lab.state import LabState, StateStore
from hubnet.lab.status import status
from hubnet.server.settings import Settings


def test_kernel_lab_is_unchanged() -> None:
    plan = make_plan("lab", 2, 1)
    assert plan.router == "kernel" and not plan.bgp
    assert plan.controller_netns == plan.router_netns == "hnlab-lab-router"
    assert plan.controller_url == "http://192.168.1.1:6780"
    assert [str(a) for a in plan.controller_addresses] == ["192.168.1.1", "fd00:192:168:1::1"]


@pytest.mark.parametrize("router", ["bird", "frr"])
def test_bgp_lab_puts_the_controller_in_its_own_namespace_on_the_underlay(router: str) -> None:
    plan = make_plan("lab", 2, 1, router=router)
    assert plan.bgp
    assert plan.controller_netns == "hnlab-lab-ctl"
    assert [str(a) for a in plan.controller_addresses] == ["192.168.1.2", "fd00:192:168:1::2"]
    assert plan.controller_url == "http://192.168.1.2:6780"
    assert plan.bgp_listen == "192.168.1.2:179"
    assert str(plan.router_address) == "192.168.1.1"  # the router (the nodes' gateway) keeps its address


def test_ipv6_only_bgp_lab_speaks_bgp_over_ipv6() -> None:
    plan = make_plan("lab", 1, 0, (6,), router="bird")
    assert plan.controller_url == "http://[fd00:192:168:1::2]:6780"
    assert plan.bgp_listen == "[fd00:192:168:1::2]:179"
    assert bgplab.peer_body(plan)["address"] == "fd00:192:168:1::1"


def test_unknown_router_kind_is_refused() -> None:
    with pytest.raises(PlanError, match="--router must be one of kernel, bird, frr"):
        make_plan("lab", 1, 0, router="quagga")


def _state(router: str, families: tuple[int, ...] = (4, 6)) -> LabState:
    return LabState(
        name="lab", nodes=2, pods=0, bootstrap_token="b", admin_token="a", families=list(families), router=router
    )


@pytest.mark.parametrize("families", [(4, 6), (4,), (6,)])
def test_controller_env_for_the_bgp_backend_is_valid_settings(
    families: tuple[int, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = make_plan("lab", 2, 0, families, router="frr")
    env = members.controller_env(plan, StateStore("lab", root=tmp_path), _state("frr", families))
    assert env["HUBNET_ROUTE_BACKEND"] == "bgp"
    assert env["HUBNET_BGP_ROUTER_ID"] == "192.168.1.2" and env["HUBNET_BGP_ASN"] == "64512"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.route_backend == "bgp"
    assert settings.bgp_listen_host_port == (str(plan.controller_address), 179)
    assert str(settings.bgp_id) == "192.168.1.2" and settings.bgp_asn == 64512
    assert settings.listen_host_port == (str(plan.controller_address), 6780)
    assert [str(a) for a in settings.router_addresses] == [str(a) for a in plan.router_addresses]


def test_kernel_controller_env_has_no_bgp_settings(tmp_path: Path) -> None:
    plan = make_plan("lab", 2, 0)
    env = members.controller_env(plan, StateStore("lab", root=tmp_path), _state("kernel"))
    assert env["HUBNET_ROUTE_BACKEND"] == "kernel" and env["HUBNET_LISTEN"] == "192.168.1.1:6780"
    assert not [k for k in env if k.startswith("HUBNET_BGP_")]


def test_the_peer_the_lab_posts_is_the_router_ibgp_without_secrets() -> None:
    body = bgplab.peer_body(make_plan("lab", 2, 0, router="bird"))
    assert body == {"address": "192.168.1.1", "asn": 64512, "description": "lab router (bird)"}


def test_expected_routes_are_every_subnet_via_the_node_of_its_family() -> None:
    plan = make_plan("lab", 2, 0, router="bird")
    subnets = {"node-1": ["10.244.1.0/24", "fd00:10:244:1::/64"], "node-2": ["10.244.2.0/24"]}
    assert bgplab.expected_routes(plan, subnets) == {
        ip_network("10.244.1.0/24"): ip_address("192.168.1.11"),
        ip_network("fd00:10:244:1::/64"): ip_address("fd00:192:168:1::11"),
        ip_network("10.244.2.0/24"): ip_address("192.168.1.12"),
    }


def test_state_records_the_router_kind_and_old_files_mean_kernel(tmp_path: Path) -> None:
    store = StateStore("unit", root=tmp_path)
    state = _state("frr")
    state.name = "unit"
    state.processes = {"router-zebra": 11, "router-bgpd": 12, "controller": 13}
    store.create(state)
    loaded = store.load()
    assert loaded is not None and loaded.router == "frr" and loaded.plan().controller_netns == "hnlab-unit-ctl"
    old = loaded.to_json()
    del old["router"]
    assert LabState.from_json(old).router == "kernel"


def test_status_of_a_bgp_lab_adds_a_bgp_key_and_keeps_the_contract() -> None:
    bgp = status(_state("bird"), live=False)
    assert bgp["bgp"] == {"router": "bird", "controller_netns": "hnlab-lab-ctl", "sessions": []}
    assert bgp["controller"] == {"url": "http://192.168.1.2:6780"}
    assert bgp["router"] == {
        "netns": "hnlab-lab-router",
        "address": "192.168.1.1",
        "addresses": ["192.168.1.1", "fd00:192:168:1::1"],
    }
    kernel = status(_state("kernel"), live=False)
    assert "bgp" not in kernel and kernel["controller"] == {"url": "http://192.168.1.1:6780"}
