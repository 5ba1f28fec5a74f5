"""Hypothesis state machine over the service layer on a real SQLite database.

register / re-join / delete / return after release / lease expiry / restart (a new controller rebuilt from the
file). After every step: 0 overlapping live subnets, none outside the pool or in an excluded range,
allocated + free = total, and no live node's subnet ever changed. IPv4-only and dual-stack (IPv4 + IPv6 pools, nodes
with an address of one or both families): per family, the same invariants.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from hubnet.server.db.migrate import upgrade
from hubnet.server.db.uow import Database
from hubnet.server.domain.allocator import PoolSpace
from hubnet.server.domain.errors import PoolExhausted, SubnetReissued
from hubnet.server.services import nodes, pools
from hubnet.server.services.context import Controller
from hubnet.server.services.reaper import reap
from hubnet.server.settings import Settings
from tests.support.sizes import examples, steps

NAMES = [f"n{i}" for i in range(24)]
# In memory when the machine has a tmpfs: thousands of examples commit on every step, and what is tested is the
# service layer's logic on SQLite, not the disk's fsync.
_SCRATCH = Path("/dev/shm") if os.access("/dev/shm", os.W_OK) else Path(tempfile.gettempdir())
TEMPLATE_DIR = _SCRATCH / f"hnt-sm-{os.getpid()}"
TEMPLATE = TEMPLATE_DIR / "template.db"


def setup_module() -> None:
    """One migrated database file, copied for every example (cheaper than migrating each time)."""
    TEMPLATE_DIR.mkdir(exist_ok=True)
    upgrade(f"sqlite:///{TEMPLATE}")


def teardown_module() -> None:
    shutil.rmtree(TEMPLATE_DIR, ignore_errors=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class ServiceMachine(RuleBasedStateMachine):
    CLUSTER = "10.244.0.0/16"
    SERVICE = "10.244.252.0/22"
    ROUTER = "192.168.50.254"  # outside the pool: a router inside a pod pool is refused at start
    # Dual-stack machines add an IPv6 pool (node prefix /64), its excluded service range and the router's address.
    CLUSTER6: str | None = None
    SERVICE6 = "fd00:10:96::/112"
    ROUTER6 = "fd00:50::fe"

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="hnt-sm-", dir=TEMPLATE_DIR))
        shutil.copy(TEMPLATE, self.dir / "hubnet.db")
        clusters = [ip_network(c) for c in (self.CLUSTER, self.CLUSTER6) if c]
        services = [ip_network(self.SERVICE)] + ([ip_network(self.SERVICE6)] if self.CLUSTER6 else [])
        routers = [ip_address(self.ROUTER)] + ([ip_address(self.ROUTER6)] if self.CLUSTER6 else [])
        self.settings = Settings(
            database_url=f"sqlite:///{self.dir / 'hubnet.db'}",
            cluster_cidrs=tuple(clusters),
            service_cidrs=tuple(services),
            router_addresses=tuple(routers),
            bootstrap_tokens=("boot",),
            admin_tokens=("admin",),
            lease_ttl_seconds=60,
            release_grace_seconds=60,
        )
        # the expected geometry, per family, built here from the constants (not by the code under test)
        self.spaces: dict[int, PoolSpace] = {
            net.version: PoolSpace.build(net, self.settings.prefix_for(net.version), exclude=services, router=routers)
            for net in clusters
        }
        self.space = self.spaces[4]
        self.clock = Clock()
        self.ctl = self._controller()
        self.secrets: dict[str, str] = {}
        self.live: dict[str, list[str]] = {}  # name -> subnets (IPv4 first), the model
        self.released: set[str] = set()

    def _controller(self) -> Controller:
        ctl = Controller(db=Database(self.settings.db_url, clock=self.clock), settings=self.settings)
        for cidr in self.settings.cluster_cidrs:
            pools.ensure_pool(ctl, cidr=cidr, node_prefix=self.settings.prefix_for(cidr.version))
        pools.scan(ctl)
        return ctl

    def _families(self, name: str) -> tuple[int, ...]:
        """The underlay families of a node: on a dual-stack cluster both, IPv4 only or IPv6 only, by name."""
        if not self.CLUSTER6:
            return (4,)
        return ((4, 6), (4,), (6,))[NAMES.index(name) % 3]

    def _addresses(self, name: str) -> list[str]:
        i = NAMES.index(name) + 1
        return [
            str(IPv4Address(f"192.168.50.{i}") if f == 4 else IPv6Address(f"fd00:50::{i:x}"))
            for f in self._families(name)
        ]

    def _held(self, family: int) -> int:
        return sum(1 for subnets in self.live.values() for s in subnets if ip_network(s).version == family)

    def _register(self, name: str) -> None:
        addresses = self._addresses(name)
        try:
            view, _ = nodes.register(
                self.ctl,
                token="boot",
                name=name,
                address=addresses[0],
                addresses=addresses if self.CLUSTER6 else None,
                secret=self.secrets[name],
                machine_id=None,
            )
        except PoolExhausted:
            # only a fresh allocation can run out, and only when a family it needs is full
            assert name not in self.live
            assert any(self._held(f) == self.spaces[f].total for f in self._families(name))
            return
        except SubnetReissued:
            assert name in self.released
            return
        if name in self.live:
            assert view.subnets == self.live[name]
        assert [ip_network(s).version for s in view.subnets] == list(self._families(name))
        assert view.subnet == view.subnets[0]
        self.live[name] = view.subnets
        self.released.discard(name)

    @rule(name=st.sampled_from(NAMES), token=st.binary(min_size=32, max_size=32))
    def register_or_rejoin(self, name: str, token: bytes) -> None:
        self.secrets.setdefault(name, token.hex())
        self._register(name)

    @rule(name=st.sampled_from(NAMES))
    def delete(self, name: str) -> None:
        if name not in self.live and name not in self.released:
            return
        nodes.delete(self.ctl, token="admin", name=name)
        if name in self.live:
            del self.live[name]
            self.released.add(name)
        elif self.ctl.read(lambda uow: uow.repo.node(name)) is None:
            # a released record whose subnet (of either family) was re-issued is removed: the name starts afresh
            assert name in self.released
            self.released.discard(name)

    @rule()
    def expire_everything(self) -> None:
        self.clock.now += 61
        reap(self.ctl)
        self.clock.now += 61
        reap(self.ctl)
        self.released |= set(self.live)
        self.live.clear()

    @rule()
    def restart(self) -> None:
        self.ctl.close()
        self.ctl = self._controller()

    @invariant()
    def sound(self) -> None:
        rows = self.ctl.read(lambda uow: uow.repo.live_nodes())
        assert {r.name: r.subnets for r in rows} == self.live
        usage = self.ctl.read(lambda uow: pools.usage(self.ctl, uow))
        totals = [(space.total, space.total) for space in self.spaces.values()]
        assert [(u.total, u.allocated + u.free) for u in usage] == totals
        for u, (family, space) in zip(usage, self.spaces.items(), strict=True):
            subnets = sorted(n for r in rows for s in r.subnets if (n := ip_network(s)).version == family)
            assert all(not a.overlaps(b) for a, b in itertools.pairwise(subnets))
            assert all(space.allocatable(s) for s in subnets)
            assert u.allocated == len(subnets) == self._held(family)

    def teardown(self) -> None:
        self.ctl.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class SmallPoolMachine(ServiceMachine):
    """The same on a pool small enough to run out (16 - 4 excluded = 12 subnets)."""

    CLUSTER = "10.244.0.0/20"
    SERVICE = "10.244.12.0/22"


class DualStackMachine(ServiceMachine):
    """Both families: an IPv6 /56 in /64s beside the IPv4 /16."""

    CLUSTER6 = "fd00:10:244::/56"


class SmallDualStackMachine(ServiceMachine):
    """Both families small enough to run out, IPv6 first (16 nodes have an IPv6 address): 12 IPv4 /24s, 3 IPv6
    /64s (4 in the /62, one /64 of services)."""

    CLUSTER = "10.244.0.0/20"
    SERVICE = "10.244.12.0/22"
    CLUSTER6 = "fd00:10:244::/62"
    SERVICE6 = "fd00:10:244:2::/64"


# `make test-long` (nightly) runs each at HUBNET_LONG_EXAMPLES (2,000) examples of 50 steps (tests/support/sizes.py).
TestServiceMachine = ServiceMachine.TestCase
TestServiceMachine.settings = settings(max_examples=examples(25), stateful_step_count=steps(30), deadline=None)
TestSmallPoolMachine = SmallPoolMachine.TestCase
TestSmallPoolMachine.settings = settings(max_examples=examples(25), stateful_step_count=steps(40), deadline=None)

TestDualStackMachine = DualStackMachine.TestCase
TestDualStackMachine.settings = settings(max_examples=examples(25), stateful_step_count=steps(30), deadline=None)
TestSmallDualStackMachine = SmallDualStackMachine.TestCase
TestSmallDualStackMachine.settings = settings(max_examples=examples(25), stateful_step_count=steps(40), deadline=None)

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
