"""The desired-route feed (`GET /v1/routes?since=REV&wait=S`) as the router agent reads it, parsed strictly.

A small parser of its own (stdlib + the route values) while `hubnet.wire` does not have the contract's `RouteFeed` /
`RouteEntry` records yet; it can switch to them once they land. Strict like `wire.Record.from_json`: a missing field
or a value of the wrong type or shape raises FeedError naming it, and the whole answer is refused (a half-read feed
must never reach the kernel); unknown fields are ignored (the contract is additive).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from hubnet.net import parse_ip, parse_network
from hubnet.server.domain.routes import Route

T = TypeVar("T")


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
    body = _object(data, "RouteFeed")
    revision = _field(body, "revision", int, "RouteFeed")
    if revision < 0:
        raise FeedError(f"RouteFeed.revision must be >= 0, got {revision}", "revision")
    entries = _field(body, "entries", list, "RouteFeed")
    return RouteFeed(
        revision,
        _field(body, "full", bool, "RouteFeed"),
        tuple(_entry(e, f"entries[{i}]") for i, e in enumerate(entries)),
    )


def _entry(data: object, where: str) -> FeedEntry:
    body = _object(data, where)
    node = _field(body, "node", str, where)
    if not node:
        raise FeedError(f"{where}.node is empty", "node")
    routes = _field(body, "routes", list, where)
    parsed = tuple(_route(r, f"{where}.routes[{i}]") for i, r in enumerate(routes))
    return FeedEntry(node, _field(body, "generation", int, where), parsed)


def _route(data: object, where: str) -> Route:
    body = _object(data, where)
    prefix, hop = _field(body, "prefix", str, where), _field(body, "next_hop", str, where)
    try:
        network, address = parse_network(prefix), parse_ip(hop)
    except ValueError as exc:
        raise FeedError(f"{where}: {exc}", "routes") from None
    if network.version != address.version:
        raise FeedError(f"{where}: {prefix} via {hop} mixes address families", "routes")
    return Route(network, address)


def _object(data: object, where: str) -> Mapping[str, object]:
    if not isinstance(data, Mapping):
        raise FeedError(f"{where} must be a JSON object, not {type(data).__name__}", where)
    return data


def _field(body: Mapping[str, object], name: str, kind: type[T], where: str) -> T:
    if name not in body:
        raise FeedError(f"{where}.{name} is missing", name)
    value = body[name]
    if type(value) is not kind:  # exact: a bool is not an int here, an int not a bool
        raise FeedError(f"{where}.{name} has an unexpected value {value!r:.80}", name)
    return value
