"""bench/ha.py's pure helpers: percentiles, the open-loop schedule, fake node addresses, the cut of a ping flow,
RTM_NEWADDR parsing, the HTTP/1.1 answer parser. No namespaces, no processes."""

from __future__ import annotations

import asyncio
import socket
import struct
from ipaddress import IPv6Address

import pytest

from bench import ha
from hubnet.lab.plan import UNDERLAY6, make_plan


def test_percentile_is_nearest_rank() -> None:
    assert ha.percentile([], 50) is None
    assert ha.percentile([7.0], 99) == 7.0
    assert ha.percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0
    values = [float(v) for v in range(1, 101)]
    assert ha.percentile(values, 99) == 99.0
    assert ha.percentile(values, 100) == 100.0
    assert ha.percentile(values, 0) == 1.0


def test_summarize_ms() -> None:
    assert ha.summarize_ms([]) == {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    assert ha.summarize_ms([1.04, 2.0, 30.0]) == {"count": 3, "p50_ms": 2.0, "p99_ms": 30.0, "max_ms": 30.0}


def test_schedule_is_evenly_spaced_from_zero() -> None:
    offsets = ha.schedule(200, 20)
    assert len(offsets) == 4000
    assert offsets[0] == 0.0
    assert offsets[1] == pytest.approx(0.005)
    assert offsets[-1] == pytest.approx(19.995)
    assert ha.schedule(50, 2.5) == [i / 50 for i in range(125)]


def test_fake_addresses_are_unique_and_clear_of_the_lab() -> None:
    addresses = [ha.fake_address(i) for i in range(20_000)]
    assert addresses[0] == IPv6Address("fd00:192:168:1::1:0")
    assert len(set(addresses)) == len(addresses)
    assert all(a in UNDERLAY6 for a in addresses)
    plan = make_plan("x", 200, 0, routers=2, controllers=2)
    taken = {a for n in plan.nodes for a in n.addresses} | {
        a for m in plan.routers + plan.controllers for a in m.addresses
    }
    taken |= set(plan.router_addresses)
    assert not taken & set(addresses)
    with pytest.raises(ValueError):
        ha.fake_address(2**64)


def test_longest_cut() -> None:
    sent = {seq: seq * 0.1 for seq in range(1, 21)}
    assert ha.longest_cut(sent, set(sent), 0.1) == pytest.approx(0.0)
    assert ha.longest_cut(sent, set(sent) - {5, 6, 7}, 0.1) == pytest.approx(0.3)
    assert ha.longest_cut(sent, set(sent) - {19, 20}, 0.1) == pytest.approx(0.2)  # lost at the end of the window
    assert ha.longest_cut(sent, set(), 0.1) == pytest.approx(2.0)
    assert ha.longest_cut({}, set(), 0.1) == 0.0


def test_flow_losses_before_and_after_the_failure() -> None:
    flow = ha.Flow("n1-pod-1", "10.244.1.2", 4, 0.1, 7, sent={seq: seq * 0.1 for seq in range(1, 11)})
    flow.answered = set(range(1, 11)) - {2, 6, 7}
    assert flow.lost == 3
    assert flow.lost_since(0.55) == 2  # 6 and 7; 2 was lost before the failure
    figures = ha.flow_figures([flow], (10,), since=0.55)["at_10"]
    assert (figures["median"], figures["max"], figures["lost_before"]) == (2, 2, 1)


def test_loss_figures() -> None:
    assert ha.loss_figures([3, 2, 3, 9]) == {"flows": 4, "median": 3.0, "max": 9, "total": 17}
    assert ha.loss_figures([]) == {"flows": 0, "median": None, "max": None, "total": 0}


def _attr(kind: int, value: bytes) -> bytes:
    data = struct.pack("=HH", 4 + len(value), kind) + value
    return data + b"\0" * (-len(data) % 4)


def _newaddr(family: int, index: int, attrs: bytes, kind: int = 20) -> bytes:
    body = struct.pack("=BBBBI", family, 24, 0, 0, index) + attrs
    return struct.pack("=IHHII", 16 + len(body), kind, 0, 0, 0) + body


def test_parse_new_addresses() -> None:
    v4 = _newaddr(
        socket.AF_INET,
        3,
        _attr(1, socket.inet_aton("192.168.1.255")) + _attr(2, socket.inet_aton("192.168.1.1")) + _attr(3, b"up0\0"),
    )
    v6 = _newaddr(socket.AF_INET6, 3, _attr(1, socket.inet_pton(socket.AF_INET6, "fd00:192:168:1::1")))
    deleted = _newaddr(socket.AF_INET, 3, _attr(2, socket.inet_aton("192.168.1.9")), kind=21)  # RTM_DELADDR
    data = v4 + deleted + v6
    assert ha.parse_new_addresses(data, len(data)) == [(3, "192.168.1.1"), (3, "fd00:192:168:1::1")]
    assert ha.parse_new_addresses(data, 10) == []


def test_http11_response_parser() -> None:
    async def parse(raw: bytes) -> tuple[int, bool, bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        return await ha.Http11._response(reader)

    ok = b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}trailing"
    assert asyncio.run(parse(ok)) == (201, True, b"{}")
    closed = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    assert asyncio.run(parse(closed)) == (503, False, b"")
