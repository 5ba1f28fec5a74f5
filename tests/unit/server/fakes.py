"""A service-layer Controller over the in-memory database (hubnet.server.db.memory), on a clock the test moves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from hubnet.server.db.memory import MemoryDatabase
from hubnet.server.services import pools
from hubnet.server.services.context import Controller, CountingMetrics
from hubnet.server.settings import Settings

ADMIN, BOOT = "admin", "boot"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "cluster_cidr": IPv4Network("10.244.0.0/16"),
        "router_address": IPv4Address("192.168.255.254"),
        "bootstrap_tokens": (BOOT,),
        "admin_tokens": (ADMIN,),
        "lease_ttl_seconds": 60.0,
        "release_grace_seconds": 300.0,
        **overrides,
    }
    return Settings(**values)


@contextmanager
def memory_controller(clock: Clock, **overrides: Any) -> Iterator[Controller]:
    """The configured pool exists (as at start-up); the writer thread is stopped at the end."""
    config = settings(**overrides)
    ctl = Controller(db=MemoryDatabase(clock=clock), settings=config, metrics=CountingMetrics())
    try:
        for cidr in config.cluster_cidrs:  # every configured family, as at start-up
            pools.ensure_pool(ctl, cidr=cidr, node_prefix=config.prefix_for(cidr.version))
        yield ctl
    finally:
        ctl.close()


def events(ctl: Controller) -> list[tuple[str, str | None, dict[str, Any]]]:
    """Every committed event as (type, node, data)."""
    assert isinstance(ctl.db, MemoryDatabase)
    return [(e.type, e.node, json.loads(e.data)) for e in ctl.db.state.events]


def kinds(ctl: Controller) -> list[str]:
    return [kind for kind, _, _ in events(ctl)]
