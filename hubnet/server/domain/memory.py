"""An in-memory allocator with the three classic verbs (occupy, allocate_next, release).

It applies exactly the production policy (`allocate`) over a dict instead of the database: the unit tests and
the Hypothesis state machine use it, and it rebuilds from committed rows like a restarted controller would.
"""

from __future__ import annotations

from hubnet.net import Network
from hubnet.server.domain.allocator import PoolSpace, allocate
from hubnet.server.domain.errors import Conflict, InvalidInput


class MemoryAllocator:
    """One pool's allocations (either family). Released subnets remember when they were released (quarantine order)."""

    def __init__(self, space: PoolSpace) -> None:
        self.space = space
        self.high_water = 0
        self._used: set[Network] = set()
        self._released: dict[Network, float] = {}

    # SubnetView
    def in_use(self, subnet: Network) -> bool:
        return subnet in self._used

    def oldest_released(self) -> Network | None:
        """The longest-released subnet; after a rebuild from used subnets only, any hole below the high water."""
        free = [(at, str(s), s) for s, at in self._released.items() if s not in self._used]
        if free:
            return min(free)[2]
        for index in self.space.fresh_from(0):
            if index >= self.high_water:
                break
            if (subnet := self.space.subnet_at(index)) not in self._used:
                return subnet
        return None

    # the verbs
    def occupy(self, subnet: Network) -> None:
        """Mark a committed subnet as used (start-up rebuild); refuses foreign or double occupation."""
        if not self.space.allocatable(subnet):
            raise InvalidInput(f"{subnet} is not an allocatable subnet of {self.space.cidr}", field="subnet")
        if subnet in self._used:
            raise Conflict(f"{subnet} is already occupied")
        self._used.add(subnet)
        self._released.pop(subnet, None)
        index = self.space.index_of(subnet)
        assert index is not None
        self.high_water = max(self.high_water, index + 1)

    def allocate_next(self) -> Network:
        subnet, self.high_water = allocate(self.space, self.high_water, self)
        self._used.add(subnet)
        self._released.pop(subnet, None)
        return subnet

    def release(self, subnet: Network, *, at: float) -> None:
        """Free a subnet (idempotent); it joins the quarantine queue ordered by `at`."""
        if subnet in self._used:
            self._used.discard(subnet)
            self._released[subnet] = at

    @property
    def used(self) -> frozenset[Network]:
        return frozenset(self._used)

    @property
    def free(self) -> int:
        return self.space.total - len(self._used)
