"""Direct mode (HUBNET_MODE=direct): what the node agent needs of the component that programs its routes to the other
nodes. The implementation lives in the router agent's floor (`hubnet.router.direct`, the same follower and
programmer); the entry point (`hubnet.cli.node`) hands the agent its factory, so this floor imports neither."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Protocol

from hubnet.net import Address, Network

DIRECT, HUB = "direct", "hub"


class PeerRoutes(Protocol):
    def start(self) -> None:
        """Follow the route feed and program the routes to the other nodes (on threads of its own)."""

    def ready(self) -> tuple[bool, str]:
        """(True, "ready") once the whole table was read and every peer route is in place; else why not."""

    def report(self) -> dict[str, Any] | None:
        """For the heartbeat: `{"routes", "failed", "error"}` of the last reconcile; None before the first."""

    def stop(self) -> None:
        """Stop; the routes stay in place."""

    def withdraw(self, keep: Collection[Network]) -> int:
        """Delete our routes except those to `keep`; the number that could not be deleted."""


class PeerFactory(Protocol):
    def __call__(
        self,
        *,
        name: str,
        secret: str,
        proto: int,
        keep: Sequence[tuple[Network, Address]],
        on_change: Any,
    ) -> PeerRoutes: ...
