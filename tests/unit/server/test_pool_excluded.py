"""`PoolSpace.excluded_networks`: the excluded node subnets as CIDRs (GET /v1/pools `excluded`, the console's
excluded cells)."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest

from hubnet.server.domain.allocator import PoolSpace

CASES = [
    ("none", "10.244.0.0/16", 24, [], None, []),
    ("service CIDR inside a /8", "10.0.0.0/8", 24, ["10.96.0.0/12"], None, ["10.96.0.0/12"]),
    ("router's subnet", "10.244.0.0/16", 24, [], "10.244.5.1", ["10.244.5.0/24"]),
    ("service smaller than a node subnet", "10.244.0.0/16", 24, ["10.244.7.128/25"], None, ["10.244.7.0/24"]),
    ("both, merged when adjacent", "10.244.0.0/16", 24, ["10.244.4.0/24"], "10.244.5.9", ["10.244.4.0/23"]),
    ("IPv6", "fd00:10:244::/56", 64, ["fd00:10:244:10::/60"], None, ["fd00:10:244:10::/60"]),
]


@pytest.mark.parametrize(
    ("pool", "prefix", "exclude", "router", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_excluded_networks(pool: str, prefix: int, exclude: list[str], router: str | None, expected: list[str]) -> None:
    space = PoolSpace.build(
        ip_network(pool),
        prefix,
        exclude=[ip_network(n) for n in exclude],
        router=ip_address(router) if router else None,
    )
    assert [str(n) for n in space.excluded_networks()] == expected
    assert sum(n.num_addresses for n in space.excluded_networks()) >> (space.bits - prefix) == space.size - space.total
