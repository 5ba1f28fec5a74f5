"""`RouteTable.sweep` on the wire, against a scripted kernel: every dump read whole before a delete goes out, the
deletes unacknowledged and closed by one acknowledged no-op, and each error the kernel reports mapped back to its
route across writes whose sequence numbers a dump request split apart."""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from ipaddress import IPv4Network, IPv6Network

from hubnet.linux.routes import RouteTable, _Channel
from tests.unit.routing.test_route_parse import DST, GATEWAY, OIF, V4, V6, control, u32, via4, via6

GETROUTE, DELROUTE, NOOP, ERROR = 26, 25, 1, 2
REQUEST, ACK = 1, 4
HDR = struct.Struct("=IHHII")


def messages(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """(type, flags, seq, whole message) of each message in `data`."""
    found, offset = [], 0
    while offset < len(data):
        length, kind, flags, seq, _ = HDR.unpack_from(data, offset)
        found.append((kind, flags, seq, data[offset : offset + length]))
        offset += (length + 3) & ~3
    return found


def attribute(message: bytes, kind: int) -> bytes:
    """The value of the first attribute of `kind` after the rtmsg."""
    offset = 28
    while offset + 4 <= len(message):
        length, found = struct.unpack_from("=HH", message, offset)
        if found == kind:
            return message[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    raise AssertionError(f"no attribute {kind}")


def error(seq: int, code: int) -> bytes:
    return HDR.pack(36, ERROR, 0, seq, 0) + struct.pack("=i", -code) + HDR.pack(16, DELROUTE, REQUEST, seq, 0)


class Kernel:
    """What the scripted kernel was sent, and its answers: each family's dump (built for the request's sequence
    number), and an error for each delete whose destination `refuse` names."""

    def __init__(self, dumps: dict[int, Callable[[int], list[bytes]]], refuse: dict[bytes, int]) -> None:
        self.dumps, self.refuse = dumps, refuse
        self.events: list[str] = []  # "dump <family>", "delete <n>", "barrier"
        self.deletes: list[tuple[int, int, bytes]] = []  # (flags, seq, destination) of each delete, in order
        self.reads: list[tuple[int, bytes]] = []
        self.dump_seqs: dict[int, int] = {}
        self.deleted_at_reads: list[tuple[int, int]] = []  # (family, deletes sent so far) at each dump read
        self.pending = b""  # errors sent back after the deletes
        self.ready = b""  # what the side socket's reads return

    def table(self) -> RouteTable:
        kernel = self

        class Scripted(RouteTable):
            def _send(self, data: bytes) -> None:
                kind, _, seq, body = messages(data)[0]
                assert kind == GETROUTE
                family = body[16]
                kernel.events.append(f"dump {family}")
                kernel.dump_seqs[family] = seq
                kernel.reads = [(family, data) for data in kernel.dumps[family](seq)]

            def _recv(self) -> int:
                family, data = kernel.reads.pop(0)
                kernel.deleted_at_reads.append((family, len(kernel.deletes)))
                self._buf[: len(data)] = data
                return len(data)

            def _side(self) -> _Channel:
                return Side(kernel)

        return Scripted(proto=44)


class Side(_Channel):
    """The sweep's second socket: errors for refused deletes, held until the barrier's answer closes them."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel, self.buf = kernel, bytearray(1 << 20)

    def send(self, data: bytes) -> None:
        k = self.kernel
        sent = messages(data)
        if sent[0][0] == NOOP:
            k.events.append("barrier")
            assert len(sent) == 1 and sent[0][1] & ACK
            k.ready, k.pending = k.pending + error(sent[0][2], 0), b""
            return
        k.events.append(f"delete {len(sent)}")
        for kind, flags, seq, message in sent:
            assert kind == DELROUTE and not flags & ACK and message[16 + 5] == 44  # unacknowledged, our protocol
            destination = attribute(message, DST)
            assert attribute(message, OIF) == u32(3) and attribute(message, GATEWAY)  # as dumped
            k.deletes.append((flags, seq, destination))
            if destination in k.refuse:
                k.pending += error(seq, k.refuse[destination])

    def recv(self) -> int:
        """The errors and the barrier's answer in two reads (any number of reads may carry them)."""
        k = self.kernel
        data, cut = k.ready, len(k.ready) // 2 // 36 * 36
        if cut:
            data, k.ready = data[:cut], data[cut:]
        else:
            k.ready = b""
        assert data, "read with nothing to answer: the sweep would hang"
        self.buf[: len(data)] = data
        return len(data)


def net4(n: int) -> str:
    return f"10.{100 + n // 256}.{n % 256}.0/24"


def test_deletes_follow_whole_dumps_and_every_error_maps_back_to_its_route() -> None:
    count4, count6 = 1500, 40  # IPv4: one write of 1,024 goes out before the IPv6 dump is asked for

    def dump4(seq: int) -> list[bytes]:
        routes = [via4(net4(n), f"192.168.1.{n % 200 + 1}", seq=seq) for n in range(count4)]
        reads = [b"".join(routes[i : i + 375]) for i in range(0, count4, 375)]  # four reads
        return [*reads[:-1], reads[-1] + control(3, seq=seq)]

    def dump6(seq: int) -> list[bytes]:
        return [b"".join(via6(f"fd00:99:{n:x}::/64", "fd7a:1ab::10", seq=seq) for n in range(count6)) + control(3, seq)]

    refuse = {
        IPv4Network(net4(5)).network_address.packed: errno.EPERM,  # in the first write
        IPv4Network(net4(1400)).network_address.packed: errno.EINVAL,  # in the last, after the IPv6 dump request
        IPv4Network(net4(9)).network_address.packed: errno.ESRCH,  # gone already: a success
        IPv6Network("fd00:99:3::/64").network_address.packed: errno.ENETUNREACH,
    }
    kernel = Kernel({V4: dump4, V6: dump6}, refuse)
    table = kernel.table()
    try:
        keep = {IPv4Network(net4(n)) for n in range(count4) if n % 256 % 4 == 0} - {IPv4Network(net4(1400))}
        routes, sweep = table.sweep(keep)
        failures = sweep.wait()
    finally:
        table.close()
    assert len(routes) == count4 + count6  # listed all the same
    doomed_ones = [r for r in routes if r.prefix not in keep]
    assert len(sweep.routes) == len(doomed_ones) and set(sweep.routes) == set(doomed_ones)
    # the reads are visited bit-reversed, so consecutive deletes land far apart in the trie
    reads = [int(IPv4Network(r.prefix).network_address) for r in sweep.routes if r.prefix.version == 4]
    visited = [(a - int(IPv4Network(net4(0)).network_address)) // 256 // 375 for a in reads]
    assert [n for i, n in enumerate(visited) if i == 0 or visited[i - 1] != n] == [0, 2, 1, 3]
    assert [r.prefix for r in routes[:3]] == [IPv4Network(net4(n)) for n in range(3)]  # listed in the dump's order
    assert [n for family, n in kernel.deleted_at_reads if family == V4] == [0] * 4  # the dump was read whole first
    # the first write went out before the IPv6 dump was asked for, the rest after: sequence numbers apart
    seqs = [seq for _, seq, _ in kernel.deletes]
    assert seqs[1023] < kernel.dump_seqs[V6] < seqs[1024]
    assert kernel.events[-1] == "barrier" and kernel.events.count("barrier") == 1
    assert [d[2] for d in kernel.deletes] == [r.prefix.network_address.packed for r in sweep.routes]
    by_route = {sweep.routes[i].prefix: str(err) for i, err in failures.items()}
    assert set(by_route) == {IPv4Network(net4(5)), IPv4Network(net4(1400)), IPv6Network("fd00:99:3::/64")}
    assert f"delete route {net4(5)} via 192.168.1.6 proto 44" in by_route[IPv4Network(net4(5))]
