"""Wire records for tests: a well-formed controller answer with chosen fields replaced."""

from __future__ import annotations

from typing import Any

from hubnet.wire import Node

GOOD_NODE: dict[str, Any] = {
    "name": "node-1",
    "address": "192.168.1.11",
    "subnet": "10.244.1.0/24",
    "gateway": "10.244.1.1",
    "generation": 1,
    "state": "active",
    "route_state": "programmed",
    "route_error": None,
    "cluster_cidrs": ["10.244.0.0/16"],
    "router_address": "192.168.1.1",
    "lease_ttl_seconds": 30.0,
    "lease_expires_at": 0.0,
}


def node_json(**changes: Any) -> dict[str, Any]:
    """The controller's JSON answer with `changes` applied."""
    return {**GOOD_NODE, **changes}


def node_record(**changes: Any) -> Node:
    """The parsed record with `changes` applied (raises WireError when they break its shape)."""
    return Node.from_json(node_json(**changes))
