"""The pod IPAM file store: round-robin, duplicates, exhaustion, GC, and the lock under parallel processes."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubnet.node.cnilib.ipam import Duplicate, Exhausted, IpamError, Store

SUBNET = IPv4Network("10.244.3.0/24")


def store(tmp_path: Path) -> Store:
    return Store(str(tmp_path / "ipam"), SUBNET)


def test_first_address_is_dot_2_and_gateway_never_handed_out(tmp_path: Path) -> None:
    s = store(tmp_path)
    got = [s.allocate(f"c{i}", "eth0").address for i in range(253)]
    assert got[0] == IPv4Address("10.244.3.2") and got[-1] == IPv4Address("10.244.3.254")
    assert IPv4Address("10.244.3.1") not in got and len(set(got)) == 253
    with pytest.raises(Exhausted):
        s.allocate("one-more", "eth0")


def test_round_robin_does_not_reuse_a_just_freed_address(tmp_path: Path) -> None:
    s = store(tmp_path)
    for i in range(3):
        s.allocate(f"c{i}", "eth0")  # .2 .3 .4
    s.release("c1", "eth0")  # frees .3
    assert s.allocate("d", "eth0").address == IPv4Address("10.244.3.5")
    assert s.allocate("e", "eth0").address == IPv4Address("10.244.3.6")


def test_duplicate_attachment_is_refused_other_ifname_gets_another(tmp_path: Path) -> None:
    s = store(tmp_path)
    first = s.allocate("c", "eth0")
    with pytest.raises(Duplicate):
        s.allocate("c", "eth0")
    assert s.allocate("c", "net1").address != first.address
    assert len(s.reservations()) == 2


def test_release_is_idempotent_and_survives_a_new_store_object(tmp_path: Path) -> None:
    s = store(tmp_path)
    r = s.allocate("c", "eth0")
    again = Store(str(tmp_path / "ipam"))  # as the shim opens it: no subnet given, read from the store
    assert again.find("c", "eth0") == r
    assert again.release("c", "eth0") == [r.address]
    assert again.release("c", "eth0") == []


def test_gc_keeps_valid_and_the_store_files(tmp_path: Path) -> None:
    s = store(tmp_path)
    for i in range(5):
        s.allocate(f"c{i}", "eth0")
    gone = s.release_except([("c1", "eth0"), ("c3", "eth0")])
    assert sorted(r.container_id for r in gone) == ["c0", "c2", "c4"]
    s.release_except([])
    assert s.reservations() == []
    assert {"lock", "subnet", "last_reserved_ip.0"} <= set(os.listdir(tmp_path / "ipam"))


def test_store_of_another_subnet_is_refused(tmp_path: Path) -> None:
    store(tmp_path).allocate("c", "eth0")
    with pytest.raises(IpamError, match="belongs to subnet"):
        Store(str(tmp_path / "ipam"), IPv4Network("10.244.4.0/24")).allocate("d", "eth0")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 30)), max_size=60))
def test_property_never_duplicate_always_in_range(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[bool, int]]
) -> None:
    s = Store(str(tmp_path_factory.mktemp("ipam")), SUBNET)
    for add, n in ops:
        if add:
            with contextlib.suppress(Duplicate):
                s.allocate(f"c{n}", "eth0")
        else:
            s.release(f"c{n}", "eth0")
        addresses = [r.address for r in s.reservations()]
        assert len(addresses) == len(set(addresses))
        assert all(IPv4Address("10.244.3.2") <= a <= IPv4Address("10.244.3.254") for a in addresses)


def _worker(directory: str, start: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    s = Store(directory, SUBNET)
    out.put([str(s.allocate(f"p{start + i}", "eth0").address) for i in range(25)])


def test_parallel_processes_never_share_an_address(tmp_path: Path) -> None:
    directory = str(tmp_path / "ipam")
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    procs = [multiprocessing.Process(target=_worker, args=(directory, k * 100, queue)) for k in range(8)]
    for p in procs:
        p.start()
    got = [a for _ in procs for a in queue.get(timeout=30)]
    for p in procs:
        p.join(10)
    assert len(got) == 200 and len(set(got)) == 200


@pytest.mark.parametrize("damage", ["missing", "torn", "checksum"])
def test_a_missing_or_damaged_index_is_rebuilt_from_the_address_files(tmp_path: Path, damage: str) -> None:
    s = store(tmp_path)
    s.allocate("old", "eth0")
    s.allocate("old", "net1")
    index = tmp_path / "ipam" / ".index"
    if damage == "missing":  # as an older version left the store: address files only
        index.unlink()
    elif damage == "torn":
        index.write_bytes(index.read_bytes()[:40])
    else:
        index.write_text(index.read_text().replace("old", "odd"))
    with pytest.raises(Duplicate):
        s.allocate("old", "eth0")
    assert s.release("old", "net1") == [IPv4Address("10.244.3.3")]
    assert [r.container_id for r in s.reservations()] == ["old"]


def test_stale_index_entries_are_not_believed(tmp_path: Path) -> None:
    s = store(tmp_path)
    first = s.allocate("a", "eth0")
    # a crash after the index was written, before the address file: the entry names a free address
    (tmp_path / "ipam" / str(first.address)).unlink()
    assert s.find("a", "eth0") is None
    second = s.allocate("a", "eth0")
    assert second.address != first.address
    # the same, and the address the entry names went to another attachment
    (tmp_path / "ipam" / str(second.address)).unlink()
    b = s.allocate("b", "eth0")
    s._save_index({**s._load_index(), ("a", "eth0"): str(b.address)})
    assert s.find("a", "eth0") is None and s.release("a", "eth0") == []
    assert [r.container_id for r in s.reservations()] == ["b"]


SUBNET6 = IPv6Network("fd00:10:244:3::/64")


def test_an_ipv6_store_hands_out_from_2_round_robin_named_as_host_local(tmp_path: Path) -> None:
    s = Store(str(tmp_path / "ipam6"), SUBNET6)
    got = [s.allocate(f"c{i}", "eth0").address for i in range(3)]
    assert [str(a) for a in got] == ["fd00:10:244:3::2", "fd00:10:244:3::3", "fd00:10:244:3::4"]
    assert (tmp_path / "ipam6" / "fd00:10:244:3::3").read_bytes() == b"c1\r\neth0"  # host-local's file format
    s.release("c1", "eth0")
    assert str(s.allocate("d", "eth0").address) == "fd00:10:244:3::5"  # a just-freed address is not reused first
    assert s.free_count() == 2**64 - 3 - 3
    shim = Store(str(tmp_path / "ipam6"))  # as the shim opens it: the subnet read from the store
    assert shim.release("d", "eth0") == [IPv6Address("fd00:10:244:3::5")]
    with pytest.raises(IpamError, match="belongs to subnet"):
        Store(str(tmp_path / "ipam6"), IPv6Network("fd00:10:244:4::/64")).allocate("e", "eth0")


def test_the_ipv6_range_wraps_to_its_start_after_the_last_address(tmp_path: Path) -> None:
    s = Store(str(tmp_path / "ipam6"), IPv6Network("fd00:10:244:3::/126"))  # ::2 only
    assert str(s.allocate("a", "eth0").address) == "fd00:10:244:3::2"
    with pytest.raises(Exhausted):
        s.allocate("b", "eth0")
    s.release("a", "eth0")
    assert str(s.allocate("b", "eth0").address) == "fd00:10:244:3::2"
