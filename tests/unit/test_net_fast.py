"""hubnet.net's cheap constructors (`network4/6`, `address4/6`): the objects behave exactly as the stdlib's."""

from __future__ import annotations

import copy
import ipaddress
import itertools
import pickle
import re
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubnet.net import address4, address6, network4, network6

Net = IPv4Network | IPv6Network
CASES = [
    pytest.param(network4, IPv4Network, 0x0A000000, 24, id="v4-/24"),
    pytest.param(network4, IPv4Network, 0, 0, id="v4-default"),
    pytest.param(network4, IPv4Network, 0xC0A80102, 31, id="v4-/31"),
    pytest.param(network4, IPv4Network, 0xC0A80101, 32, id="v4-/32"),
    pytest.param(network4, IPv4Network, 0xFFFFFFFF, 32, id="v4-broadcast-host"),
    pytest.param(network6, IPv6Network, 0xFD000010 << 96, 64, id="v6-/64"),
    pytest.param(network6, IPv6Network, 0, 0, id="v6-default"),
    pytest.param(network6, IPv6Network, 0xFD00 << 112 | 2, 127, id="v6-/127"),
    pytest.param(network6, IPv6Network, 0xFD00 << 112 | 1, 128, id="v6-/128"),
]


def same(fast: Net, plain: Net) -> None:
    """Every observable property of `fast` is the one of `plain`."""
    assert fast == plain and plain == fast and not fast != plain  # noqa: SIM202
    assert hash(fast) == hash(plain)
    assert (str(fast), repr(fast)) == (str(plain), repr(plain))
    assert isinstance(fast, type(plain)) and fast.version == plain.version
    assert (fast.network_address, fast.netmask, fast.prefixlen) == (
        plain.network_address,
        plain.netmask,
        plain.prefixlen,
    )
    assert type(fast.network_address) is type(plain.network_address)
    assert (fast.broadcast_address, fast.hostmask, fast.num_addresses) == (
        plain.broadcast_address,
        plain.hostmask,
        plain.num_addresses,
    )
    assert (fast.with_prefixlen, fast.with_netmask, fast.exploded) == (
        plain.with_prefixlen,
        plain.with_netmask,
        plain.exploded,
    )
    assert list(itertools.islice(fast.hosts(), 4)) == list(itertools.islice(plain.hosts(), 4))
    assert fast.network_address in fast and fast.broadcast_address in fast
    assert fast.subnet_of(plain) and plain.supernet_of(fast) and fast.overlaps(plain)  # type: ignore[arg-type]
    assert not fast < plain and not plain < fast and fast <= plain and fast >= plain  # type: ignore[operator]
    assert {fast: 1}[plain] == 1 and {plain: 1}[fast] == 1 and len({fast, plain}) == 1


@pytest.mark.parametrize(("build", "kind", "address", "prefixlen"), CASES)
def test_network_is_the_stdlib_one(
    build: Callable[[int, int], Net], kind: type[Net], address: int, prefixlen: int
) -> None:
    fast, plain = build(address, prefixlen), kind((address, prefixlen))
    same(fast, plain)
    for copied in (pickle.loads(pickle.dumps(fast)), copy.copy(fast), copy.deepcopy(fast)):
        assert copied == plain and type(copied) is kind
    if prefixlen:
        parent = fast.supernet()  # built by ipaddress's own constructor: still hashes as the stdlib's
        assert parent == plain.supernet() and hash(parent) == hash(plain.supernet())
        assert sorted([fast, parent]) == sorted([plain, plain.supernet()])  # type: ignore[type-var]
    if prefixlen < fast.max_prefixlen:
        assert list(fast.subnets()) == list(plain.subnets())


@pytest.mark.parametrize(
    ("build", "kind", "address", "prefixlen"),
    [
        pytest.param(network4, IPv4Network, 0x0A000001, 24, id="v4-host-bits"),
        pytest.param(network4, IPv4Network, 0, 33, id="v4-too-long"),
        pytest.param(network4, IPv4Network, 0, -1, id="v4-negative-length"),
        pytest.param(network4, IPv4Network, 1 << 32, 32, id="v4-address-too-big"),
        pytest.param(network4, IPv4Network, -1, 32, id="v4-negative-address"),
        pytest.param(network6, IPv6Network, 1, 64, id="v6-host-bits"),
        pytest.param(network6, IPv6Network, 0, 129, id="v6-too-long"),
        pytest.param(network6, IPv6Network, 1 << 128, 128, id="v6-address-too-big"),
    ],
)
def test_invalid_network_raises_what_the_stdlib_raises(
    build: Callable[[int, int], Net], kind: type[Net], address: int, prefixlen: int
) -> None:
    with pytest.raises(ValueError) as expected:
        kind((address, prefixlen))
    with pytest.raises(type(expected.value), match=re.escape(str(expected.value))):
        build(address, prefixlen)


@pytest.mark.parametrize(
    ("build", "kind", "value"),
    [
        pytest.param(address4, IPv4Address, 0xC0A80101, id="v4"),
        pytest.param(address4, IPv4Address, 0, id="v4-zero"),
        pytest.param(address6, IPv6Address, 0xFD7A01AB << 96 | 0x100, id="v6"),
    ],
)
def test_address_is_the_stdlib_one(build: Callable[[int], Any], kind: type[Any], value: int) -> None:
    fast, plain = build(value), kind(value)
    assert type(fast) is kind and fast == plain and hash(fast) == hash(plain)
    assert (str(fast), repr(fast), fast.packed, int(fast)) == (str(plain), repr(plain), plain.packed, int(plain))
    assert fast + 1 == plain + 1 and not fast < plain and fast <= plain
    assert pickle.loads(pickle.dumps(fast)) == plain
    if kind is IPv6Address:
        assert fast.scope_id is None


@pytest.mark.parametrize("build", [address4, address6])
def test_address_out_of_range_raises(build: Callable[[int], Any]) -> None:
    with pytest.raises(ipaddress.AddressValueError):
        build(-1)


@given(st.integers(0, 32), st.integers(0, (1 << 32) - 1))
def test_any_ipv4_prefix(prefixlen: int, bits: int) -> None:
    address = bits & ~((1 << (32 - prefixlen)) - 1)
    same(network4(address, prefixlen), IPv4Network((address, prefixlen)))


@given(st.integers(0, 128), st.integers(0, (1 << 128) - 1))
def test_any_ipv6_prefix(prefixlen: int, bits: int) -> None:
    address = bits & ~((1 << (128 - prefixlen)) - 1)
    same(network6(address, prefixlen), IPv6Network((address, prefixlen)))


def test_mixed_in_one_dict_with_stdlib_objects() -> None:
    plain = [IPv4Network((0x0A000000 + (i << 8), 24)) for i in range(64)]
    table = {network4(int(n.network_address), 24): i for i, n in enumerate(plain)}
    assert [table[n] for n in plain] == list(range(64))
    assert network4(0x0A000000, 24) != network6(0x0A000000, 120) and network4(0, 0) != "0.0.0.0/0"
