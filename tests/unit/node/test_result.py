"""prevResult parsing: a good result gives the pod address; a malformed one is decode error 6 naming prevResult."""

from __future__ import annotations

from typing import Any

import pytest

from node_client.cni.result import prev_address
from node_client.cni.skel import DECODE_FAILURE, CniError

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
