"""Subnet allocation policy (pure): which /N of a pool a new node gets.

The committed rows are the truth. The policy asks a `SubnetView` (the database in production, `MemoryAllocator`
in tests) two indexed questions, so one allocation costs O(excluded ranges), not O(nodes):
1. never-used subnets first, in order, from the pool's high-water mark (stored with the pool, shared by every
   controller process), skipping excluded ranges (service CIDR, the router's subnet) and anything in use;
2. then the longest-released subnet (a subnet still in quarantine is only reached when nothing else is free,
   because the longest-released one is always the first offered);
3. otherwise `PoolExhausted`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from ipaddress import ip_network, summarize_address_range
from typing import Protocol

from hubnet.net import Address, Network
from hubnet.server.domain.errors import PoolExhausted

# The longest node prefix per address family: an IPv4 /30 keeps one pod address beside the gateway; an IPv6 /126
# likewise (three usable addresses, as the IPv4 /30's two plus the last one host-local also avoids).
MAX_PREFIX = {4: 30, 6: 126}
# At most 2**16 node subnets in an IPv6 pool (Kubernetes' node IPAM limit; Settings refuses more).
MAX_V6_BITS = 16


@dataclass(frozen=True)
class PoolSpace:
    """The subnets of one pool (either family), indexed 0..size-1, with excluded index ranges (half-open, sorted,
    merged)."""

    cidr: Network
    prefix: int
    excluded: tuple[tuple[int, int], ...] = ()

    @classmethod
    def build(
        cls,
        cidr: Network,
        prefix: int,
        *,
        exclude: Iterable[Network] = (),
        router: Address | Iterable[Address] | None = None,
    ) -> PoolSpace:
        """The pool's space; `exclude` and `router` may hold either family (the other family's are ignored)."""
        if not cidr.prefixlen <= prefix <= MAX_PREFIX[cidr.version]:
            raise ValueError(f"node prefix /{prefix} does not fit pool {cidr}")
        if cidr.version == 6 and prefix - cidr.prefixlen > MAX_V6_BITS:
            raise ValueError(f"node prefix /{prefix} cuts pool {cidr} into more than {2**MAX_V6_BITS} subnets")
        bare = cls(cidr, prefix)
        ranges = [r for net in exclude if (r := bare._range_of(net)) is not None]
        routers = [] if router is None else [router] if not isinstance(router, Iterable) else list(router)
        for address in routers:
            if address.version == cidr.version and address in cidr:
                ranges.append(bare._range_of(ip_network(f"{address}/{prefix}", strict=False)) or (0, 0))
        return cls(cidr, prefix, _merge(ranges))

    @property
    def bits(self) -> int:
        return self.cidr.max_prefixlen

    @property
    def size(self) -> int:
        return 1 << (self.prefix - self.cidr.prefixlen)

    @property
    def total(self) -> int:
        """Allocatable subnets: size minus excluded."""
        return self.size - sum(end - start for start, end in self.excluded)

    def subnet_at(self, index: int) -> Network:
        step = 1 << (self.bits - self.prefix)
        return ip_network((int(self.cidr.network_address) + index * step, self.prefix))

    def index_of(self, subnet: Network) -> int | None:
        """The subnet's index, or None when it is not exactly one of this pool's subnets (or of another family)."""
        if subnet.version != self.cidr.version or subnet.prefixlen != self.prefix:
            return None
        offset = int(subnet.network_address) - int(self.cidr.network_address)  # same length: inside or not at all
        if not 0 <= offset < self.cidr.num_addresses:
            return None
        return offset >> (self.bits - self.prefix)

    def excluded_networks(self) -> list[Network]:
        """The excluded ranges as the fewest CIDRs covering exactly their node subnets."""
        found: list[Network] = []
        for start, end in self.excluded:
            first, last = self.subnet_at(start), self.subnet_at(end - 1)
            found.extend(summarize_address_range(first.network_address, last.broadcast_address))
        return found

    def is_excluded(self, index: int) -> bool:
        return any(start <= index < end for start, end in self.excluded)

    def allocatable(self, subnet: Network) -> bool:
        index = self.index_of(subnet)
        return index is not None and not self.is_excluded(index)

    def fresh_from(self, start: int) -> Iterator[int]:
        """Non-excluded indices from `start` up, jumping over excluded ranges in one step each."""
        index = start
        for ex_start, ex_end in self.excluded:
            if index < ex_start:
                yield from range(index, ex_start)
            index = max(index, ex_end)
        yield from range(index, self.size)

    def _range_of(self, net: Network) -> tuple[int, int] | None:
        """Indices of the subnets overlapping `net` (None when disjoint from the pool or of another family)."""
        if net.version != self.cidr.version or not net.overlaps(self.cidr):
            return None
        lo = max(int(net.network_address), int(self.cidr.network_address))
        hi = min(int(net.broadcast_address), int(self.cidr.broadcast_address))
        shift, base = self.bits - self.prefix, int(self.cidr.network_address)
        return (lo - base) >> shift, ((hi - base) >> shift) + 1


def _merge(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


class SubnetView(Protocol):
    """What the policy needs to know about committed allocations."""

    def in_use(self, subnet: Network) -> bool:
        """True when a non-released node holds `subnet` (or anything overlapping it)."""
        ...

    def oldest_released(self) -> Network | None:
        """The longest-released subnet of this pool that nobody holds now, or None."""
        ...


def allocate(space: PoolSpace, high_water: int, view: SubnetView) -> tuple[Network, int]:
    """Choose a subnet for a new node; returns it and the pool's new high-water mark. Raises PoolExhausted."""
    for index in space.fresh_from(high_water):
        subnet = space.subnet_at(index)
        if not view.in_use(subnet):
            return subnet, index + 1
    reused = view.oldest_released()
    if reused is None:
        raise PoolExhausted(f"pool {space.cidr} has no free /{space.prefix} (total {space.total})")
    return reused, space.size
