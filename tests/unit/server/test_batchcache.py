"""The batch cache's own bookkeeping (hubnet.server.db.batchcache): what a write makes it learn or forget."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from hubnet.server.db.batchcache import BatchCache
from hubnet.server.domain.records import NodeRecord


def _record(node_id: int, name: str, state: str = "active") -> NodeRecord:
    return NodeRecord(
        id=node_id,
        name=name,
        address="192.168.1.1",
        machine_id=None,
        subnet="10.244.0.0/24",
        pool_id=1,
        state=state,
        generation=1,
        secret_hash="h",
        expires_at=0.0,
        released_at=None,
        reissued=False,
        route_state="pending",
        route_error=None,
    )


def test_windows_are_aligned_blocks_of_64_subnets() -> None:
    cache = BatchCache()
    lo = int(IPv4Address("10.244.65.0"))
    assert cache.window_of(4, lo, 24) == (4, int(IPv4Address("10.244.64.0")), int(IPv4Address("10.244.127.255")))
    assert cache.window_of(4, 0, 4) == (4, 0, 2**32 - 1)  # shorter than 64 subnets: the whole space
    lo6 = int(IPv6Address("fd00:0:0:41::"))
    first, last = int(IPv6Address("fd00:0:0:40::")), int(IPv6Address("fd00:0:0:7f:ffff:ffff:ffff:ffff"))
    assert cache.window_of(6, lo6, 64) == (6, first, last)


def test_an_insert_claims_its_subnet_in_read_windows_and_takes_its_addresses() -> None:
    cache = BatchCache()
    window = cache.window_of(4, int(IPv4Address("10.244.0.0")), 24)
    cache.windows[window] = []
    cache.holders["192.168.1.9"] = None
    one = int(IPv4Address("10.244.1.0"))
    assert cache.in_use(window, one, one + 255) is False
    cache.inserted({"name": "n1", "state": "active", "address": "192.168.1.9", "net_lo": one, "net_hi": one + 255})
    assert cache.in_use(window, one, one + 255) is True
    assert cache.in_use(window, one + 256, one + 511) is False
    assert cache.holders["192.168.1.9"] == "n1"
    cache.inserted(
        {"name": "n2", "state": "released", "address": "192.168.1.10", "net_lo": one + 256, "net_hi": one + 511}
    )
    assert cache.in_use(window, one + 256, one + 511) is False  # a released row holds nothing
    assert "192.168.1.10" not in cache.holders
    other = cache.window_of(4, int(IPv4Address("10.245.0.0")), 24)
    assert cache.in_use(other, 0, 1) is None  # never read: the database is asked


def test_updates_forget_what_they_may_change() -> None:
    cache = BatchCache()
    cache.keep_node("n1", _record(7, "n1"), locked=True)
    cache.keep_node("n2", None, locked=True)
    cache.holders["192.168.1.1"] = "n1"
    window = cache.window_of(4, 0, 24)
    cache.windows[window] = [(0, 255)]
    cache.updated(7, {"expires_at": 5.0, "updated_at": 5.0})  # a heartbeat: only the record goes
    assert cache.node("n1", lock=True) == (False, None)
    assert cache.node("n2", lock=True) == (True, None)
    assert cache.holders and cache.windows
    cache.keep_node("n1", _record(7, "n1", state="stale"), locked=True)
    cache.updated(7, {"state": "active"})  # stale -> active: still live, nothing else moves
    assert cache.holders and cache.windows
    cache.keep_node("n1", _record(7, "n1"), locked=True)
    cache.updated(7, {"state": "released"})  # liveness changed: holders and windows go
    assert not cache.holders and not cache.windows
    cache.windows[window] = [(0, 255)]
    cache.updated(99, {"state": "active"})  # a row never read: its old state is unknown
    assert not cache.windows
    cache.keep_node("n1", _record(7, "n1"), locked=False)
    assert cache.node("n1", lock=True) == (False, None)  # read without the lock now wanted
    assert cache.node("n1", lock=False)[0] is True
    cache.forget_node("n1")
    assert cache.node("n1", lock=False) == (False, None)
