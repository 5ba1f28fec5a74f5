"""`hubnet router join`'s flags, checked once (docs/ha.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from hubnet.linux import ROUTE_PROTO
from hubnet.node.agent.config import controller_urls
from hubnet.server.domain.errors import InvalidInput
from hubnet.server.domain.validation import check_name
from hubnet.server.routing.base import RESERVED_PROTOS

LONG_POLL = 25  # seconds a feed request waits for a change (the contract's `wait`)


@dataclass(frozen=True)
class RouterConfig:
    name: str
    controllers: tuple[str, ...]  # base URLs, in order: the client fails over between them
    token: str  # bootstrap token (or admin token): only for joining
    state_dir: str = "/var/lib/hubnet"
    route_proto: int = ROUTE_PROTO  # the ownership mark of our routes, as the controller's HUBNET_ROUTE_PROTO
    route_table: int = 254
    ca_file: str | None = None
    interval: float = 10.0  # seconds between periodic reconciles (drift nobody notified us of)
    report_interval: float = 2.0  # seconds between two reports at most (the heartbeat that keeps the router `up`)
    long_poll: int = LONG_POLL

    @property
    def credentials_path(self) -> str:
        return os.path.join(self.state_dir, f"router-{self.name}.json")

    @property
    def lock_name(self) -> str:
        """The lock file in the state dir that keeps a second agent of this router off (another router may share
        the state dir, and so may a node agent)."""
        return f"router-{self.name}.lock"


def join_config(
    *,
    controllers: str,
    token: str,
    name: str,
    state_dir: str,
    route_proto: int = ROUTE_PROTO,
    route_table: int = 254,
    ca_file: str = "",
    interval: float = 10.0,
    report_interval: float = 2.0,
) -> RouterConfig:
    """The configuration of the flags; ValueError names the flag of a bad value. `controllers`: comma-separated."""
    urls = controller_urls(controllers)
    if not urls:
        raise ValueError("--controller: at least one controller URL is needed (or $HUBNET_CONTROLLERS)")
    if not token:
        raise ValueError("--token: the bootstrap token is needed to join")
    try:
        check_name(name)
    except InvalidInput as exc:
        raise ValueError(f"--name: {exc}") from None
    if not 1 <= route_proto <= 255 or route_proto in RESERVED_PROTOS:
        raise ValueError(f"--route-proto: {route_proto} is reserved (redirect/kernel/boot/static) or out of 1..255")
    if not 1 <= route_table < 2**32:
        raise ValueError(f"--route-table: {route_table} is not a table id (1..4294967295)")
    for flag, value in (("--interval", interval), ("--report-interval", report_interval)):
        if not value > 0:
            raise ValueError(f"{flag}: must be > 0 seconds, got {value}")
    return RouterConfig(
        name=name,
        controllers=urls,
        token=token,
        state_dir=state_dir,
        route_proto=route_proto,
        route_table=route_table,
        ca_file=ca_file or None,
        interval=interval,
        report_interval=report_interval,
    )
