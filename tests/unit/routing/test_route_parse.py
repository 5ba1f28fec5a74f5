"""Decoding dumped routes (hubnet.linux.routes) from hand-built rtnetlink messages: the one-unpack fast path of a
plain `via` route reads exactly what the generic attribute walk reads, and a dump read keeps every rule (sequence,
family, table, torn flag, end, missing table)."""

from __future__ import annotations

import errno
import socket
import struct
import sys
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import pytest

from hubnet.linux.routes import NO_GATEWAY, KernelRoute, RouteTable, _parse_generic, parse_route

V4, V6 = socket.AF_INET, socket.AF_INET6
MULTI, DUMP_INTR = 2, 0x10
TABLE, DST, OIF, GATEWAY, PRIORITY, CACHEINFO, PREF = 15, 1, 4, 5, 6, 12, 20


def u32(value: int) -> bytes:
    return value.to_bytes(4, sys.byteorder)


def attr(kind: int, value: bytes) -> bytes:
    return struct.pack("=HH", 4 + len(value), kind) + value + b"\0" * (-len(value) % 4)


def message(
    *attrs: bytes, family: int = V4, dst_len: int = 24, proto: int = 44, seq: int = 7, flags: int = MULTI
) -> bytes:
    body = struct.pack("=BBBBBBBBI", family, dst_len, 0, 0, 254, proto, 0, 1, 0) + b"".join(attrs)
    return struct.pack("=IHHII", 16 + len(body), 24, flags, seq, 0) + body


def via4(dst: str, hop: str, table: int = 254, **kw: int) -> bytes:
    """The layout the kernel dumps a plain IPv4 `via` route in: TABLE, DST, GATEWAY, OIF."""
    packed = IPv4Network(dst).network_address.packed
    return message(
        attr(TABLE, u32(table)), attr(DST, packed), attr(GATEWAY, IPv4Address(hop).packed), attr(OIF, u32(3)), **kw
    )


def via6(dst: str, hop: str, metric: int = 1024, **kw: int) -> bytes:
    """IPv6's: TABLE, DST, PRIORITY, GATEWAY, OIF, CACHEINFO, PREF."""
    net = IPv6Network(dst)
    return message(
        attr(TABLE, u32(254)),
        attr(DST, net.network_address.packed),
        attr(PRIORITY, u32(metric)),
        attr(GATEWAY, IPv6Address(hop).packed),
        attr(OIF, u32(3)),
        attr(CACHEINFO, b"\0" * 32),
        attr(PREF, b"\0"),
        family=V6,
        dst_len=net.prefixlen,
        **kw,
    )


def control(kind: int, seq: int = 7, code: int = 0) -> bytes:
    return struct.pack("=IHHII", 20, kind, MULTI, seq, 0) + struct.pack("=i", -code)


MESSAGES = [
    pytest.param(via4("10.244.1.0/24", "192.168.1.10"), id="v4-plain"),
    pytest.param(via4("10.0.0.0/8", "192.168.1.10", dst_len=8), id="v4-plain-/8"),
    pytest.param(via4("0.0.0.0/0", "192.168.1.1", dst_len=0), id="v4-default"),
    pytest.param(via4("10.244.1.0/24", "192.168.1.10", table=1000), id="v4-other-table"),
    pytest.param(message(attr(TABLE, u32(254)), attr(DST, bytes([10, 244, 2, 0])), attr(OIF, u32(3))), id="v4-dev"),
    pytest.param(via6("fd00:10:244:1::/64", "fd7a:1ab::10"), id="v6-plain"),
    pytest.param(via6("fd00:10:244:1::/64", "fd7a:1ab::10", metric=7), id="v6-metric"),
]


@pytest.mark.parametrize("data", MESSAGES)
def test_fast_path_reads_what_the_generic_walk_reads(data: bytes) -> None:
    padded = b"\xee" * 8 + data + b"\xee" * 40  # at an offset, and followed by something that is not this message
    assert parse_route(padded, 8) == _parse_generic(padded, 8)
    assert parse_route(data, 0) == _parse_generic(data, 0)


class Replay(RouteTable):
    """A RouteTable whose dump reads come from `reads` instead of the kernel."""

    def __init__(self, reads: list[bytes]) -> None:
        super().__init__(proto=44)
        self._reads: Iterator[bytes] = iter(reads)
        self._seq = 6  # the dump request goes out as seq 7, the seq of the replayed messages

    def _send(self, data: bytes) -> None:
        pass

    def _recv(self) -> int:
        data = next(self._reads)
        self._buf[: len(data)] = data
        return len(data)


def dump(reads: list[bytes], family: int = V4) -> tuple[list[KernelRoute], bool]:
    table = Replay(reads)
    try:
        return table._dump_once(family, 44)
    finally:
        table.close()


def r4(dst: str, hop: str) -> KernelRoute:
    return KernelRoute(IPv4Network(dst), IPv4Address(hop), 44, 254, 0)


def test_a_dump_keeps_our_table_and_sequence_across_reads() -> None:
    first = via4("10.244.1.0/24", "192.168.1.10") + via4("10.244.2.0/24", "192.168.1.11", table=1000)
    second = (
        via4("10.244.3.0/24", "192.168.1.12", seq=99)  # another request's answer
        + message(attr(TABLE, u32(254)), attr(DST, bytes([10, 244, 4, 0])), attr(OIF, u32(3)))
        + via6("fd00:10:244:1::/64", "fd7a:1ab::10")  # a kernel without the family's filter: skipped
        + via4("10.244.5.0/24", "192.168.1.10")
        + control(3)  # NLMSG_DONE
    )
    routes, torn = dump([first, second])
    assert not torn
    assert routes == [
        r4("10.244.1.0/24", "192.168.1.10"),
        KernelRoute(IPv4Network("10.244.4.0/24"), NO_GATEWAY, 44, 254, 0),
        r4("10.244.5.0/24", "192.168.1.10"),
    ]
    assert routes[0].next_hop is routes[2].next_hop  # one object per next hop


def test_a_torn_message_marks_the_dump_torn_and_is_still_read() -> None:
    routes, torn = dump([via4("10.244.1.0/24", "192.168.1.10", flags=MULTI | DUMP_INTR) + control(3)])
    assert torn and routes == [r4("10.244.1.0/24", "192.168.1.10")]


def test_ipv6_dump() -> None:
    routes, torn = dump([via6("fd00:10:244:1::/64", "fd7a:1ab::10") + control(3)], V6)
    assert not torn
    assert routes == [KernelRoute(IPv6Network("fd00:10:244:1::/64"), IPv6Address("fd7a:1ab::10"), 44, 254, 1024)]


def test_a_missing_table_is_empty_and_another_error_raises() -> None:
    assert dump([control(2, code=errno.ENOENT)]) == ([], False)
    with pytest.raises(Exception, match="dump table 254"):
        dump([control(2, code=errno.EPERM)])
