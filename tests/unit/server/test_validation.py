"""Input validation (pure): DNS-1123 names, node addresses, secrets — each refusal names its field."""

from __future__ import annotations

import secrets
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

import pytest

from hubnet.server.domain.errors import InvalidInput
from hubnet.server.domain.validation import check_address, check_addresses, check_name, check_pool_range, check_secret

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


POOLS_DS = [IPv4Network("10.244.0.0/16"), IPv6Network("fd00:10:244::/56")]
SERVICES_DS = [IPv4Network("10.96.0.0/12"), IPv6Network("fd00:10:96::/112")]
ROUTERS_DS = [IPv4Address("192.168.1.1"), IPv6Address("fd00:1::1")]
BAD_IPV6 = {
    "unspecified": "::",
    "loopback": "::1",
    "link-local": "fe80::1",
    "multicast": "ff02::1",
    "IPv4-mapped": "::ffff:192.168.1.11",
    "documentation": "2001:db8::11",
    "with a zone": "fd00:1::11%eth0",
    "cidr": "fd00:1::/64",
    "in the IPv6 pool": "fd00:10:244:3::5",
    "in the IPv6 service cidr": "fd00:10:96::10",
    "the router's IPv6 address": "fd00:1::1",
    "garbage": "fd00:::1",
}


def _check(address: str, addresses: list[str] | None) -> dict[int, object]:
    return dict(check_addresses(address, addresses, pools=POOLS_DS, service_cidrs=SERVICES_DS, routers=ROUTERS_DS))


@pytest.mark.parametrize("case", list(BAD_IPV6))
def test_bad_ipv6_as_address_names_address(case: str) -> None:
    with pytest.raises(InvalidInput) as err:
        _check(BAD_IPV6[case], None)
    assert err.value.field == "address"
    assert BAD_IPV6[case] in err.value.detail


@pytest.mark.parametrize("case", list(BAD_IPV6))
def test_bad_ipv6_in_addresses_names_addresses(case: str) -> None:
    with pytest.raises(InvalidInput) as err:
        _check("192.168.1.11", ["192.168.1.11", BAD_IPV6[case]])
    assert err.value.field == "addresses"
    assert BAD_IPV6[case] in err.value.detail


BAD_LISTS = {
    "two IPv4": ("192.168.1.11", ["192.168.1.11", "192.168.1.12"]),
    "two IPv6": ("fd00:1::11", ["fd00:1::11", "fd00:1::12"]),
    "the same address twice": ("192.168.1.11", ["192.168.1.11", "192.168.1.11"]),
    "address not in addresses": ("192.168.1.11", ["192.168.1.12", "fd00:1::11"]),
    "empty list": ("192.168.1.11", []),
}


@pytest.mark.parametrize("case", list(BAD_LISTS))
def test_bad_address_lists(case: str) -> None:
    address, addresses = BAD_LISTS[case]
    with pytest.raises(InvalidInput) as err:
        _check(address, addresses)
    assert err.value.field == "addresses"


GOOD_LISTS: dict[str, tuple[str, list[str] | None, list[str]]] = {
    "IPv4 only, no list": ("192.168.1.11", None, ["192.168.1.11"]),
    "IPv6 only, no list": ("fd00:1::11", None, ["fd00:1::11"]),
    "dual-stack, IPv6 listed first": ("192.168.1.11", ["fd00:1::11", "192.168.1.11"], ["192.168.1.11", "fd00:1::11"]),
    "dual-stack, IPv6 primary": ("fd00:1::11", ["192.168.1.11", "fd00:1::11"], ["192.168.1.11", "fd00:1::11"]),
    "non-canonical IPv6 text": ("FD00:1:0::011", None, ["fd00:1::11"]),
    "global unicast IPv6": ("2a01:4f8::11", None, ["2a01:4f8::11"]),
}


@pytest.mark.parametrize("case", list(GOOD_LISTS))
def test_good_address_lists_by_family_ipv4_first(case: str) -> None:
    address, addresses, expected = GOOD_LISTS[case]
    found = _check(address, addresses)
    assert list(found) == sorted(found)  # IPv4 first
    assert [str(a) for a in found.values()] == expected
    assert all(family == ip_address(a).version for family, a in zip(found, expected, strict=True))


NO_ADDRESS_OF_THE_POOLS_FAMILY = {
    # pools, address, addresses, the field named (the one the client sent), the family asked for
    "IPv4 address alone, IPv6 pools": ([POOLS_DS[1]], "192.168.1.11", None, "address", "IPv6"),
    "IPv6 address alone, IPv4 pools": ([POOLS_DS[0]], "fd00:1::11", None, "address", "IPv4"),
    "IPv4 addresses, IPv6 pools": ([POOLS_DS[1]], "192.168.1.11", ["192.168.1.11"], "addresses", "IPv6"),
}


@pytest.mark.parametrize("case", list(NO_ADDRESS_OF_THE_POOLS_FAMILY))
def test_a_node_without_an_address_of_the_clusters_family_is_refused(case: str) -> None:
    pools, address, addresses, field, family = NO_ADDRESS_OF_THE_POOLS_FAMILY[case]
    with pytest.raises(InvalidInput) as err:
        check_addresses(address, addresses, pools=pools, service_cidrs=SERVICES_DS, routers=ROUTERS_DS)
    assert err.value.field == field and family in err.value.detail


def test_an_ipv4_address_inside_an_ipv6_looking_range_is_not_confused() -> None:
    """Family-aware checks: 10.244.x in the IPv4 pool is refused, the same bits as IPv6 are not in any IPv6 pool."""
    assert _check("fd00:1::a:f401", None) == {6: IPv6Address("fd00:1::a:f401")}
    with pytest.raises(InvalidInput):
        _check("10.244.0.5", None)


UNUSABLE_V6_POOLS = {
    "link-local": "fe80::/56",
    "multicast": "ff00::/56",
    "IPv4-mapped": "::ffff:0:0/104",
    "documentation": "2001:db8:1::/56",
    "everything": "::/0",
    "loopback": "::1/128",
}


@pytest.mark.parametrize("case", list(UNUSABLE_V6_POOLS))
def test_unusable_ipv6_pools(case: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_pool_range(IPv6Network(UNUSABLE_V6_POOLS[case]))
    assert err.value.field == "cidr"


def test_usable_ipv6_pool() -> None:
    assert check_pool_range(IPv6Network("fd00:10:244::/56")) == IPv6Network("fd00:10:244::/56")


@pytest.mark.parametrize("secret", ["", "short", "x" * 42, "x" * 513, "a" * 40 + " bcd", "é" * 50])
def test_bad_secrets(secret: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_secret(secret)
    assert err.value.field == "secret"


def test_generated_secret_is_accepted() -> None:
    token = secrets.token_urlsafe(32)
    assert check_secret(token) == token
