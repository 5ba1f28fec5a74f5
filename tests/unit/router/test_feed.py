"""The router agent's strict parser of the desired-route feed (hubnet/router/feed.py)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any

import pytest

from hubnet.router.feed import FeedEntry, FeedError, RouteFeed, parse_feed
from hubnet.server.domain.routes import Route

ENTRY: dict[str, Any] = {
    "node": "n1",
    "generation": 3,
    "routes": [
        {"prefix": "10.244.3.0/24", "next_hop": "192.168.1.13"},
        {"prefix": "fd00:10:244:3::/64", "next_hop": "fd7a:1ab::13"},
    ],
}


def feed(**changes: Any) -> dict[str, Any]:
    return {"revision": 7, "full": False, "entries": [ENTRY], **changes}


def entry(**changes: Any) -> dict[str, Any]:
    return feed(entries=[{**ENTRY, **changes}])


def test_a_feed_answer_is_parsed_into_routes() -> None:
    parsed = parse_feed({**feed(), "extra": "ignored"})
    v4 = Route(IPv4Network("10.244.3.0/24"), IPv4Address("192.168.1.13"))
    v6 = Route(IPv6Network("fd00:10:244:3::/64"), IPv6Address("fd7a:1ab::13"))
    assert parsed == RouteFeed(7, False, (FeedEntry("n1", 3, (v4, v6)),))


def test_no_routes_means_the_node_has_none_any_more() -> None:
    assert parse_feed(entry(routes=[])).entries == (FeedEntry("n1", 3, ()),)
    assert parse_feed({"revision": 0, "full": True, "entries": []}) == RouteFeed(0, True, ())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "RouteFeed"),
        ({"full": True, "entries": []}, "revision"),
        (feed(revision=True), "revision"),
        (feed(revision=-1), "revision"),
        (feed(revision=7.0), "revision"),
        (feed(full="yes"), "full"),
        (feed(full=1), "full"),
        (feed(entries={}), "entries"),
        (feed(entries=["n1"]), "entries"),
        (entry(node=""), "node"),
        (entry(node=None), "entries"),
        (entry(generation=False), "entries"),
        (entry(generation="3"), "entries"),
        (entry(routes=None), "entries"),
        (entry(routes=[{"prefix": "10.244.3.0/24"}]), "next_hop"),
        (entry(routes=[{"prefix": "10.244.3.1/24", "next_hop": "192.168.1.13"}]), "routes"),
        (entry(routes=[{"prefix": "10.244.3.0/24", "next_hop": "192.168.1"}]), "routes"),
        (entry(routes=[{"prefix": "10.244.3.0/24", "next_hop": "fd7a:1ab::13"}]), "routes"),
        (entry(routes=[{"prefix": "fd00:10:244:3::/64", "next_hop": "fe80::1%eth0"}]), "routes"),
        (entry(routes=[["10.244.3.0/24", "192.168.1.13"]]), "entries"),
    ],
    ids=[
        "not-an-object", "no-revision", "revision-bool", "revision-negative", "revision-float", "full-string",
        "full-int", "entries-object", "entry-string", "node-empty", "node-null", "generation-bool",
        "generation-string", "routes-null", "no-next-hop", "prefix-host-bits", "next-hop-short", "mixed-families",
        "next-hop-zone", "route-list",
    ],
)  # fmt: skip
def test_a_malformed_answer_is_refused_whole(body: object, field: str) -> None:
    with pytest.raises(FeedError) as err:
        parse_feed(body)
    assert err.value.field == field


def test_a_malformed_entry_is_named_in_the_message() -> None:
    """A shape error inside an entry is reported on `entries` (the wire record's field); the message names the path."""
    with pytest.raises(FeedError) as err:
        parse_feed(entry(generation="3"))
    assert "RouteFeed.entries[0]: RouteEntry.generation" in str(err.value)
