"""Input validation (pure): DNS-1123 names, node addresses, secrets — each refusal names its field."""

from __future__ import annotations

import secrets
from ipaddress import IPv4Address, IPv4Network

import pytest

from hubnet.server.domain.errors import InvalidInput
from hubnet.server.domain.validation import check_address, check_name, check_secret

GOOD_NAMES = ["a", "node-1", "n" * 63, "0abc", "worker-07"]
BAD_NAMES = ["", "A", "-a", "a-", "a_b", "a.b", "n" * 64, "ä", "a b"]


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names(name: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_name(name)
    assert err.value.field == "name"


POOLS = [IPv4Network("10.244.0.0/16")]
SERVICE = IPv4Network("10.96.0.0/12")
ROUTER = IPv4Address("192.168.1.1")
BAD_ADDRESSES = {
    "garbage": "x.y",
    "ipv6": "fd00::1",
    "cidr": "192.168.1.0/24",
    "leading zeros": "192.168.001.1",
    "unspecified": "0.0.0.0",
    "loopback": "127.0.0.53",
    "link-local": "169.254.0.1",
    "multicast": "239.1.1.1",
    "broadcast": "255.255.255.255",
    "reserved": "240.0.0.1",
    "in pool": "10.244.1.1",
    "in service cidr": "10.100.0.1",
    "router": "192.168.1.1",
}


@pytest.mark.parametrize("case", list(BAD_ADDRESSES))
def test_bad_addresses(case: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_address(BAD_ADDRESSES[case], pools=POOLS, service_cidr=SERVICE, router=ROUTER)
    assert err.value.field == "address"


def test_good_address() -> None:
    assert check_address("192.168.1.11", pools=POOLS, service_cidr=SERVICE, router=ROUTER) == IPv4Address(
        "192.168.1.11"
    )


@pytest.mark.parametrize("secret", ["", "short", "x" * 42, "x" * 513, "a" * 40 + " bcd", "é" * 50])
def test_bad_secrets(secret: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_secret(secret)
    assert err.value.field == "secret"


def test_generated_secret_is_accepted() -> None:
    token = secrets.token_urlsafe(32)
    assert check_secret(token) == token
