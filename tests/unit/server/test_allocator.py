"""The pure allocator: pool geometry, exclusions, the reuse policy, and Hypothesis invariants."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from hubnet.server.domain.allocator import PoolSpace
from hubnet.server.domain.errors import Conflict, InvalidInput, PoolExhausted
from hubnet.server.domain.memory import MemoryAllocator
from tests.support.sizes import examples, steps

N = IPv4Network

SPACES = {
    "plain /16 by /24": (PoolSpace.build(N("10.244.0.0/16"), 24), 256, 256),
    "service /22 inside": (PoolSpace.build(N("10.244.0.0/16"), 24, exclude=[N("10.244.252.0/22")]), 256, 252),
    "router inside": (PoolSpace.build(N("10.244.0.0/16"), 24, router=IPv4Address("10.244.3.9")), 256, 255),
    "service covers pool": (PoolSpace.build(N("10.244.0.0/16"), 24, exclude=[N("10.0.0.0/8")]), 256, 0),
    "service elsewhere": (PoolSpace.build(N("10.244.0.0/16"), 24, exclude=[N("10.96.0.0/12")]), 256, 256),
    "8 by 24": (PoolSpace.build(N("10.0.0.0/8"), 24, exclude=[N("10.96.0.0/12")]), 65536, 65536 - 4096),
}


@pytest.mark.parametrize("case", list(SPACES))
def test_geometry(case: str) -> None:
    space, size, total = SPACES[case]
    assert (space.size, space.total) == (size, total)
    fresh = list(space.fresh_from(0))
    assert len(fresh) == total
    assert all(not space.is_excluded(i) and space.allocatable(space.subnet_at(i)) for i in fresh[:300])


def test_index_round_trip_and_foreign_subnets() -> None:
    space = PoolSpace.build(N("10.244.0.0/16"), 24)
    assert space.subnet_at(3) == N("10.244.3.0/24") and space.index_of(N("10.244.3.0/24")) == 3
    assert space.index_of(N("10.245.0.0/24")) is None  # outside
    assert space.index_of(N("10.244.3.0/25")) is None  # wrong size


def test_policy_fresh_first_then_longest_released() -> None:
    alloc = MemoryAllocator(PoolSpace.build(N("10.244.0.0/22"), 24, router=IPv4Address("10.244.1.1")))
    got = [alloc.allocate_next() for _ in range(3)]
    assert got == [N("10.244.0.0/24"), N("10.244.2.0/24"), N("10.244.3.0/24")]  # router's /24 skipped
    alloc.release(got[2], at=10.0)
    alloc.release(got[0], at=20.0)
    assert alloc.allocate_next() == got[2]  # longest released first
    assert alloc.allocate_next() == got[0]
    with pytest.raises(PoolExhausted):
        alloc.allocate_next()


def test_occupy_refuses_foreign_and_double() -> None:
    alloc = MemoryAllocator(PoolSpace.build(N("10.244.0.0/16"), 24, exclude=[N("10.244.8.0/24")]))
    alloc.occupy(N("10.244.5.0/24"))
    for bad, error in ((N("10.245.0.0/24"), InvalidInput), (N("10.244.8.0/24"), InvalidInput)):
        with pytest.raises(error):
            alloc.occupy(bad)
    with pytest.raises(Conflict):
        alloc.occupy(N("10.244.5.0/24"))
    assert alloc.high_water == 6


@given(st.lists(st.tuples(st.integers(0, 255), st.integers(1, 16)), max_size=5), st.integers(0, 255))
def test_fresh_from_never_yields_excluded(ranges: list[tuple[int, int]], start: int) -> None:
    exclude = [N(f"10.244.{a}.0/24") for a, _ in ranges]
    space = PoolSpace.build(N("10.244.0.0/16"), 24, exclude=exclude)
    yielded = list(space.fresh_from(start))
    assert yielded == [i for i in range(start, 256) if space.subnet_at(i) not in exclude]


class AllocatorMachine(RuleBasedStateMachine):
    """Allocate / release / rebuild (a restart) on 10.244.0.0/20 by /24 with exclusions."""

    SPACE = PoolSpace.build(N("10.244.0.0/20"), 24, exclude=[N("10.244.4.0/23")], router=IPv4Address("10.244.9.1"))

    def __init__(self) -> None:
        super().__init__()
        self.alloc = MemoryAllocator(self.SPACE)
        self.clock = 0.0
        self.held: set[IPv4Network] = set()

    @rule()
    def allocate(self) -> None:
        if self.alloc.free == 0:
            with pytest.raises(PoolExhausted):
                self.alloc.allocate_next()
            return
        subnet = self.alloc.allocate_next()
        assert subnet not in self.held
        self.held.add(subnet)

    @precondition(lambda self: bool(self.held))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        subnet = data.draw(st.sampled_from(sorted(self.held)))
        self.clock += 1
        self.alloc.release(subnet, at=self.clock)
        self.held.discard(subnet)

    @rule()
    def rebuild(self) -> None:
        """A restart: a new allocator from the committed subnets only."""
        fresh = MemoryAllocator(self.SPACE)
        for subnet in sorted(self.held):
            fresh.occupy(subnet)
        self.alloc = fresh

    @invariant()
    def sound(self) -> None:
        used = self.alloc.used
        assert used == self.held
        assert all(self.SPACE.allocatable(s) for s in used)
        assert len(used) + self.alloc.free == self.SPACE.total


class ClusterAllocatorMachine(AllocatorMachine):
    """The checklist's geometry: 10.244.0.0/16 by /24, a /22 of services inside it and the router's /24
    excluded: allocated + free = 256 - 5 after every step."""

    SPACE = PoolSpace.build(N("10.244.0.0/16"), 24, exclude=[N("10.244.252.0/22")], router=IPv4Address("10.244.100.1"))


# `make test-long` (nightly) runs each at HUBNET_LONG_EXAMPLES (2,000) examples of 50 steps (tests/support/sizes.py).
TestAllocatorMachine = AllocatorMachine.TestCase
TestAllocatorMachine.settings = settings(max_examples=examples(60), stateful_step_count=steps(40), deadline=None)
TestClusterAllocatorMachine = ClusterAllocatorMachine.TestCase
TestClusterAllocatorMachine.settings = settings(max_examples=examples(30), stateful_step_count=steps(40), deadline=None)
