"""prevResult parsing: a good result gives the pod address and whether ADD installed the default route; a
malformed one is decode error 6 naming prevResult."""

from __future__ import annotations

from typing import Any

import pytest

from hubnet.node.agent.result import add_result, prev_address, prev_addresses, prev_default_route, prev_default_routes
from hubnet.node.cnilib.skel import DECODE_FAILURE, CniError

IFACES = [{"name": "v-net-0"}, {"name": "vethx"}, {"name": "eth0", "sandbox": "/x"}]


@pytest.mark.parametrize(
    ("prev", "expected"),
    [
        (None, None),
        ({}, None),
        ({"interfaces": IFACES, "ips": [{"address": "10.244.7.5/24", "interface": 2}]}, "10.244.7.5/24"),
        ({"ips": [{"address": "10.244.7.6/24"}]}, "10.244.7.6/24"),
        ({"interfaces": IFACES, "ips": [{"address": "10.244.7.7/24", "interface": 1}]}, None),  # another interface
        ({"ips": [{"address": "fd00::5/64"}, {"address": "10.244.7.8/24"}]}, "10.244.7.8/24"),  # IPv6 is not ours
    ],
)
def test_prev_address_of_a_good_result(prev: Any, expected: str | None) -> None:
    config = {} if prev is None else {"prevResult": prev}
    assert prev_address(config, "eth0") == expected


@pytest.mark.parametrize(
    ("prev", "field"),
    [
        ("a string", "prevResult is not a JSON object"),
        ([1, 2], "prevResult is not a JSON object"),
        ({"ips": [{"address": "10.244.7.300/24"}]}, "prevResult.ips[0].address"),
        ({"ips": [{"address": "10.244.7.5"}]}, "prevResult.ips[0].address"),  # not CIDR form
        ({"ips": [{"address": 17}]}, "prevResult.ips[0].address"),
        ({"ips": [{}]}, "prevResult.ips[0].address"),
        ({"ips": "10.244.7.5/24"}, "prevResult.ips is not a list of objects"),
        ({"ips": ["10.244.7.5/24"]}, "prevResult.ips is not a list of objects"),
        ({"interfaces": ["eth0"], "ips": [{"address": "10.244.7.5/24", "interface": 0}]}, "prevResult.interfaces"),
        ({"interfaces": IFACES, "ips": [{"address": "10.244.7.5/24", "interface": 9}]}, "prevResult.ips[0].interface"),
        ({"interfaces": IFACES, "ips": [{"address": "10.244.7.5/24", "interface": "2"}]}, "ips[0].interface"),
    ],
)
def test_malformed_prev_result_is_a_decode_error_naming_it(prev: Any, field: str) -> None:
    with pytest.raises(CniError) as err:
        prev_address({"prevResult": prev}, "eth0")
    assert err.value.code == DECODE_FAILURE
    assert field in err.value.msg and "prevResult" in err.value.msg


@pytest.mark.parametrize(
    ("prev", "expected"),
    [
        (None, None),  # no prevResult: unknown
        ({}, False),
        ({"routes": []}, False),  # a secondary attachment's result
        ({"routes": [{"dst": "0.0.0.0/0", "gw": "10.244.7.1"}]}, True),
        ({"routes": [{"dst": "::/0"}, {"dst": "10.0.0.0/8"}]}, False),
    ],
)
def test_prev_default_route(prev: Any, expected: bool | None) -> None:
    assert prev_default_route({} if prev is None else {"prevResult": prev}) is expected


@pytest.mark.parametrize("routes", [[{"dst": "nowhere"}], [{}], "0.0.0.0/0", ["0.0.0.0/0"]])
def test_malformed_prev_routes_are_a_decode_error(routes: Any) -> None:
    with pytest.raises(CniError) as err:
        prev_default_route({"prevResult": {"routes": routes}})
    assert err.value.code == DECODE_FAILURE and "prevResult.routes" in err.value.msg


@pytest.mark.parametrize("default_route", [True, False])
def test_the_result_claims_the_default_route_only_when_installed(default_route: bool) -> None:
    res = add_result(
        "1.1.0",
        bridge=("br", "m0"),
        host=("veth1", "m1"),
        pod=("net1", "m2", "/n"),
        ips=[("10.0.0.3/24", "10.0.0.1")],
        default_routes=(4,) if default_route else (),
    )
    assert prev_default_route({"prevResult": res}) is default_route
    assert res["ips"][0]["gateway"] == "10.0.0.1"  # the subnet's gateway, whichever attachment holds the route


DUAL = [("10.0.0.3/24", "10.0.0.1"), ("fd00:10:244:7::3/64", "fd00:10:244:7::1")]


@pytest.mark.parametrize("version", ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
def test_a_dual_stack_result_carries_both_families_in_every_version(version: str) -> None:
    res = add_result(version, bridge=("br", "m0"), host=("veth1", "m1"), pod=("eth0", "m2", "/n"), ips=DUAL)
    ips = [{k: v for k, v in ip.items() if k != "version"} for ip in res["ips"]]
    assert ips == [
        {"address": "10.0.0.3/24", "gateway": "10.0.0.1", "interface": 2},
        {"address": "fd00:10:244:7::3/64", "gateway": "fd00:10:244:7::1", "interface": 2},
    ]
    assert [ip.get("version") for ip in res["ips"]] == (["4", "6"] if version < "1" else [None, None])
    assert res["routes"] == [{"dst": "0.0.0.0/0", "gw": "10.0.0.1"}, {"dst": "::/0", "gw": "fd00:10:244:7::1"}]
    assert prev_addresses({"prevResult": res}, "eth0") == {4: "10.0.0.3/24", 6: "fd00:10:244:7::3/64"}
    assert prev_default_routes({"prevResult": res}) == {4: True, 6: True}


def test_a_secondary_dual_stack_attachment_claims_only_the_default_routes_it_installed() -> None:
    res = add_result(
        "1.1.0", bridge=("b", "m"), host=("v", "m"), pod=("net1", "m", "/n"), ips=DUAL, default_routes=(6,)
    )
    assert res["routes"] == [{"dst": "::/0", "gw": "fd00:10:244:7::1"}]
    assert prev_default_routes({"prevResult": res}) == {4: False, 6: True}


def test_an_ipv6_only_result_has_one_family() -> None:
    res = add_result("0.4.0", bridge=("b", "m"), host=("v", "m"), pod=("eth0", "m", "/n"), ips=DUAL[1:])
    assert [ip["version"] for ip in res["ips"]] == ["6"] and res["routes"] == [{"dst": "::/0", "gw": DUAL[1][1]}]
    assert prev_address({"prevResult": res}, "eth0") is None  # no IPv4 address
    assert prev_addresses({"prevResult": res}, "eth0") == {6: "fd00:10:244:7::3/64"}
