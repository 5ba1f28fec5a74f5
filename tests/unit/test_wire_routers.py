"""The router agent's records in `hubnet.wire`: `route_states` on the node record, `Router`, `RouteEntry` and
`RouteFeed` — parsed strictly (the field named on a wrong shape), unknown fields ignored, round trips exact."""

from __future__ import annotations

from typing import Any

import pytest

from hubnet.wire import Node, RouteEntry, RouteFeed, Router, RouterStatus, WireError

NODE: dict[str, Any] = {
    "name": "n1",
    "address": "192.168.1.11",
    "subnet": "10.244.1.0/24",
    "gateway": "10.244.1.1",
    "generation": 1,
    "state": "active",
    "route_state": "pending",
    "route_error": None,
    "cluster_cidrs": ["10.244.0.0/16"],
    "router_address": "192.168.1.1",
    "lease_ttl_seconds": 60.0,
    "lease_expires_at": 1.0,
}
ROUTER: dict[str, Any] = {
    "name": "r1",
    "status": "up",
    "last_report_at": 2.5,
    "synced_at": None,
    "route_count": 3,
    "missing": 0,
    "unexpected": 0,
    "foreign": 1,
    "last_error": None,
    "applied_revision": 17,
    "created_at": 1.0,
}
ENTRY: dict[str, Any] = {
    "node": "n1",
    "generation": 2,
    "routes": [
        {"prefix": "10.244.1.0/24", "next_hop": "192.168.1.11"},
        {"prefix": "fd00:10:244:1::/64", "next_hop": "fd00:1::11"},
    ],
}


def test_route_states_default_empty_and_parse() -> None:
    assert Node.from_json(NODE).route_states == {}  # an older controller sends none
    record = Node.from_json({**NODE, "route_states": {"r1": "programmed", "r2": "pending"}})
    assert record.route_states == {"r1": "programmed", "r2": "pending"}
    assert Node.from_json(record.to_json()) == record


@pytest.mark.parametrize("bad", [["r1"], {"r1": 1}, {"r1": None}, "programmed"])
def test_route_states_of_another_shape_name_the_field(bad: object) -> None:
    with pytest.raises(WireError) as caught:
        Node.from_json({**NODE, "route_states": bad})
    assert caught.value.field == "route_states"


def test_router_round_trip() -> None:
    router = Router.from_json({**ROUTER, "added_later": True})
    assert router.status is RouterStatus.UP and router.applied_revision == 17
    assert router.to_json() == ROUTER
    with pytest.raises(WireError) as caught:
        Router.from_json({**ROUTER, "status": "sideways"})
    assert caught.value.field == "status"


def test_feed_round_trip() -> None:
    feed = RouteFeed.from_json({"revision": 9, "full": False, "entries": [ENTRY, {**ENTRY, "routes": []}]})
    assert feed.entries[0] == RouteEntry("n1", 2, ENTRY["routes"])
    assert feed.entries[1].routes == []
    assert RouteFeed.from_json(feed.to_json()) == feed


BAD_FEEDS = {
    "entries not a list": ({"revision": 1, "full": True, "entries": {}}, "entries"),
    "an entry not an object": ({"revision": 1, "full": True, "entries": [5]}, "entries"),
    "a route with a number": (
        {"revision": 1, "full": True, "entries": [{**ENTRY, "routes": [{"prefix": 1, "next_hop": "x"}]}]},
        "entries",
    ),
    "routes not a list": ({"revision": 1, "full": True, "entries": [{**ENTRY, "routes": "10.0.0.0/8"}]}, "entries"),
    "an entry without generation": (
        {"revision": 1, "full": True, "entries": [{"node": "n1", "routes": []}]},
        "entries",
    ),
    "revision a string": ({"revision": "1", "full": True, "entries": []}, "revision"),
    "full a number": ({"revision": 1, "full": 1, "entries": []}, "full"),
}


@pytest.mark.parametrize("case", list(BAD_FEEDS))
def test_a_bad_feed_names_the_field(case: str) -> None:
    data, field = BAD_FEEDS[case]
    with pytest.raises(WireError) as caught:
        RouteFeed.from_json(data)
    assert caught.value.field == field


def test_a_bad_entry_says_which_one() -> None:
    with pytest.raises(WireError, match=r"RouteFeed.entries\[1\]: RouteEntry.generation is missing"):
        RouteFeed.from_json({"revision": 1, "full": True, "entries": [ENTRY, {"node": "n2", "routes": []}]})


def test_route_entry_routes_are_string_maps() -> None:
    with pytest.raises(WireError) as caught:
        RouteEntry.from_json({**ENTRY, "routes": [{"prefix": "10.0.0.0/8", "next_hop": None}]})
    assert caught.value.field == "routes"
