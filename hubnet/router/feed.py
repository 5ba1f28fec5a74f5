"""The desired-route feed (`GET /v1/routes?since=REV&wait=S`) as the router agent reads it, parsed strictly.

The shape is `hubnet.wire.RouteFeed` (strict: a missing field or a value of the wrong type raises, naming it); this
module turns its text into route values and refuses the whole answer when any route is malformed — a half-read feed
must never reach the kernel. Unknown fields are ignored (the contract is additive).
"""

from __future__ import annotations

from dataclasses import dataclass

from hubnet import wire
from hubnet.net import parse_ip, parse_network
from hubnet.server.domain.routes import Route


class FeedError(ValueError):
    """An answer that does not have the feed's shape; `field` names the offending field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class FeedEntry:
    """One node's routes now; no routes: the node has none any more (released, deleted), drop what it had."""

    node: str
    generation: int
    routes: tuple[Route, ...]


@dataclass(frozen=True)
class RouteFeed:
    """One feed answer: `full` holds every live node (the table is replaced), otherwise the nodes that changed in
    (since, revision]."""

    revision: int
    full: bool
    entries: tuple[FeedEntry, ...]


def parse_feed(data: object) -> RouteFeed:
    """The feed answer `data` (decoded JSON); raises FeedError."""
    try:
        answer = wire.RouteFeed.from_json(data)
    except wire.WireError as exc:
        raise FeedError(str(exc), exc.field) from None
    if answer.revision < 0:
        raise FeedError(f"RouteFeed.revision must be >= 0, got {answer.revision}", "revision")
    entries = tuple(_entry(e, f"entries[{i}]") for i, e in enumerate(answer.entries))
    return RouteFeed(answer.revision, answer.full, entries)


def _entry(entry: wire.RouteEntry, where: str) -> FeedEntry:
    if not entry.node:
        raise FeedError(f"{where}.node is empty", "node")
    return FeedEntry(
        entry.node, entry.generation, tuple(_route(r, f"{where}.routes[{i}]") for i, r in enumerate(entry.routes))
    )


def _route(item: dict[str, str], where: str) -> Route:
    for name in ("prefix", "next_hop"):
        if name not in item:
            raise FeedError(f"{where}.{name} is missing", name)
    try:
        network, address = parse_network(item["prefix"]), parse_ip(item["next_hop"])
    except ValueError as exc:
        raise FeedError(f"{where}: {exc}", "routes") from None
    if network.version != address.version:
        raise FeedError(f"{where}: {network} via {address} mixes address families", "routes")
    return Route(network, address)
