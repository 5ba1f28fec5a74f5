"""Hypothesis fuzzing of the node agent's parsing of controller answers: the HTTP client, then the node record
(`Node.from_json`, then `NodeNetwork.from_record`):
any answer either yields a network whose subnet lies inside a cluster CIDR and whose gateway lies in the subnet,
or is refused with ValueError (WireError is one; the agent's loop turns those into "not ready: invalid answer").
Never another exception, never a subnet outside the cluster CIDR, never a gateway outside the subnet."""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Network
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubnet.node.agent.client import ControllerClient, ControllerError
from hubnet.node.agent.state import NodeNetwork
from hubnet.wire import Node
from tests.support.records import node_json

GOOD = node_json()

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
)
networks = st.builds(
    lambda a, p: str(IPv4Network((a, p), strict=False)),
    st.ip_addresses(v=4),
    st.integers(min_value=0, max_value=32),
)
addresses = st.ip_addresses(v=4).map(str)
records = st.fixed_dictionaries(
    {},
    optional={
        "subnet": networks | json_values,
        "gateway": addresses | json_values,
        "cluster_cidrs": st.lists(networks, max_size=3) | json_values,
        "router_address": addresses | json_values,
        "route_state": st.sampled_from(["pending", "programmed"]) | json_values,
    },
)


def _parse(record: dict[str, Any]) -> NodeNetwork:
    return NodeNetwork.from_record(Node.from_json(record))


def _check(record: dict[str, Any]) -> None:
    try:
        network = _parse(record)
    except ValueError:
        return
    assert network.subnet.prefixlen <= 30
    assert network.cluster_cidrs and any(network.subnet.subnet_of(c) for c in network.cluster_cidrs)
    assert network.gateway in network.subnet
    if record.get("gateway") is not None:
        assert str(network.gateway) == record["gateway"]


@settings(max_examples=600, deadline=None)
@given(record=records)
def test_any_answer_is_a_sound_network_or_refused(record: dict[str, Any]) -> None:
    _check(node_json(**record))
    _check(record)  # most required fields missing: refused


@settings(max_examples=300, deadline=None)
@given(changes=records)
def test_mutations_of_a_good_answer(changes: dict[str, Any]) -> None:
    _check({**GOOD, **changes})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"subnet": "10.99.1.0/24", "gateway": "10.99.1.1"}, "outside the cluster CIDRs"),
        ({"gateway": "10.244.2.1"}, "gateway 10.244.2.1"),
        ({"gateway": "10.244.1.0"}, "gateway 10.244.1.0"),
        ({"cluster_cidrs": []}, "no cluster CIDR"),
        ({"cluster_cidrs": "10.244.0.0/16"}, "cluster_cidrs"),
        ({"cluster_cidrs": 5}, "cluster_cidrs"),
        ({"router_address": 5}, "router_address"),
        ({"subnet": ["10.244.1.0/24"]}, "subnet"),
        ({"route_state": "unknown"}, "route_state"),
        ({"generation": True}, "generation"),
        ({"route_proto": 3}, "route_proto 3"),
        ({"lease_ttl_seconds": 10**400}, "lease_ttl_seconds"),
        ({"subnet": "10.244.1.7/24"}, "subnet '10.244.1.7/24'"),
    ],
    ids=[
        "subnet-outside-cidr",
        "gateway-outside-subnet",
        "gateway-is-network",
        "no-cidrs",
        "cidrs-string",
        "cidrs-int",
        "router-int",
        "subnet-list",
        "route-state-unknown",
        "generation-bool",
        "route-proto-kernel",
        "ttl-beyond-float",
        "subnet-host-bits",
    ],
)
def test_refusals_say_what_is_wrong(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _parse({**GOOD, **change})


def test_a_good_answer_is_accepted() -> None:
    network = _parse(GOOD)
    assert network.subnet == IPv4Network("10.244.1.0/24") and network.gateway == IPv4Address("10.244.1.1")
    assert network.router == IPv4Address("192.168.1.1")


@settings(max_examples=300, deadline=None)
@given(
    status=st.sampled_from([200, 201, 204, 400, 401, 404, 409, 422, 429, 500, 502, 503]),
    body=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()),
    content_type=st.sampled_from(["application/json", "application/problem+json", "text/html", ""]),
)
def test_any_http_answer_is_a_record_or_a_controller_error(status: int, body: bytes, content_type: str) -> None:
    """The HTTP client (hubnet.node.agent.client) under any answer: a dict, or an error the agent handles."""

    def answer(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": content_type} if content_type else {})

    client = ControllerClient("http://controller.invalid", transport=httpx.MockTransport(answer))
    try:
        record = client.register(token="t", name="n", address="192.168.1.2", secret="s")
    except ControllerError as error:
        assert status >= 400 or error.status == status
        assert str(error)
        return
    except ValueError:  # a 2xx body that is not JSON: the agent logs "invalid answer" and retries
        assert status < 400
        return
    finally:
        client.close()
    assert isinstance(record, Node) and status < 400
