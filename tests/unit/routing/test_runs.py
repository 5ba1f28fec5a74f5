"""`Runs`: ops as runs of one action over routes, built a slice at a time — every index and slice must be the op
the flat list has there (a wrong one sends a route with another action, or maps a failure to another route)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from hubnet.linux.routes import Action, Runs
from hubnet.server.domain.routes import Route


def r(n: int) -> Route:
    return Route(IPv4Network(f"10.244.{n}.0/24"), IPv4Address(f"192.168.1.{n + 1}"))


RUNS: list[tuple[Action, list[Route]]] = [
    ("delete", [r(0), r(1), r(2)]),
    ("replace", []),
    ("add", [r(10), r(11), r(12), r(13), r(14)]),
]
FLAT = [(action, route.prefix, route.next_hop) for action, routes in RUNS for route in routes]


def test_every_index_and_slice_is_the_flat_lists() -> None:
    ops = Runs(RUNS)
    assert len(ops) == len(FLAT) == 8
    assert list(ops) == FLAT
    for i in range(-8, 8):
        assert ops[i] == FLAT[i]
    for start in range(-10, 11):
        for stop in range(-10, 11):
            assert ops[start:stop] == FLAT[start:stop], (start, stop)
    assert ops[::3] == FLAT[::3]
    assert [route.prefix for route in ops.of("add")] == [route.prefix for route in RUNS[2][1]]


def test_past_the_end_is_an_index_error() -> None:
    ops = Runs(RUNS)
    for bad in (8, -9):
        try:
            ops[bad]
        except IndexError:
            continue
        raise AssertionError(f"ops[{bad}] did not raise")
