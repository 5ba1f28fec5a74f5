"""Hypothesis state machine over the service layer on a real SQLite database.

register / re-join / delete / return after release / lease expiry / restart (a new controller rebuilt from the
file). After every step: 0 overlapping live subnets, none outside the pool or in an excluded range,
allocated + free = total, and no live node's subnet ever changed.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from ipaddress import IPv4Address, IPv4Network
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

NAMES = [f"n{i}" for i in range(24)]
TEMPLATE_DIR = Path(tempfile.gettempdir()) / f"hnt-sm-{os.getpid()}"
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

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="hnt-sm-", dir=TEMPLATE_DIR))
        shutil.copy(TEMPLATE, self.dir / "hubnet.db")
        self.settings = Settings(
            database_url=f"sqlite:///{self.dir / 'hubnet.db'}",
            cluster_cidr=IPv4Network(self.CLUSTER),
            service_cidr=IPv4Network(self.SERVICE),
            router_address=IPv4Address(self.ROUTER),
            bootstrap_tokens=("boot",),
            admin_tokens=("admin",),
            lease_ttl_seconds=60,
            release_grace_seconds=60,
        )
        self.space = PoolSpace.build(
            IPv4Network(self.CLUSTER), 24, exclude=[IPv4Network(self.SERVICE)], router=IPv4Address(self.ROUTER)
        )
        self.clock = Clock()
        self.ctl = self._controller()
        self.secrets: dict[str, str] = {}
        self.live: dict[str, str] = {}  # name -> subnet, the model
        self.released: set[str] = set()

    def _controller(self) -> Controller:
        ctl = Controller(db=Database(self.settings.db_url, clock=self.clock), settings=self.settings)
        pools.ensure_pool(ctl, cidr=self.settings.cluster_cidr, node_prefix=24)
        pools.scan(ctl)
        return ctl

    def _address(self, name: str) -> str:
        return f"192.168.50.{NAMES.index(name) + 1}"

    def _register(self, name: str) -> None:
        try:
            view, _ = nodes.register(
                self.ctl,
                token="boot",
                name=name,
                address=self._address(name),
                secret=self.secrets[name],
                machine_id=None,
            )
        except PoolExhausted:
            assert len(self.live) == self.space.total
            return
        except SubnetReissued:
            assert name in self.released
            return
        if name in self.live:
            assert view.subnet == self.live[name]
        self.live[name] = view.subnet
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
        subnets = sorted(IPv4Network(r.subnet) for r in rows)
        assert all(not a.overlaps(b) for a, b in itertools.pairwise(subnets))
        assert all(self.space.allocatable(s) for s in subnets)
        assert {r.name: r.subnet for r in rows} == self.live
        usage = self.ctl.read(lambda uow: pools.usage(self.ctl, uow))
        assert [(u.total, u.allocated + u.free) for u in usage] == [(self.space.total, self.space.total)]
        assert usage[0].allocated == len(self.live)

    def teardown(self) -> None:
        self.ctl.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class SmallPoolMachine(ServiceMachine):
    """The same on a pool small enough to run out (16 - 4 excluded = 12 subnets)."""

    CLUSTER = "10.244.0.0/20"
    SERVICE = "10.244.12.0/22"


TestServiceMachine = ServiceMachine.TestCase
TestServiceMachine.settings = settings(max_examples=25, stateful_step_count=30, deadline=None)
TestSmallPoolMachine = SmallPoolMachine.TestCase
TestSmallPoolMachine.settings = settings(max_examples=25, stateful_step_count=40, deadline=None)

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
