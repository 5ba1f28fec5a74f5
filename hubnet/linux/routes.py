"""Routes tagged with one routing-protocol number in one table, IPv4 and IPv6: dump, batched add/replace/delete, and
a monitor.

Why raw rtnetlink messages instead of `IPRoute.route()`: one acknowledged call per route manages ~3,000
routes/s; queuing `batch` requests per `send()`, the last one acknowledged, and reading the errors the kernel sends
for every failed one is faster than `ip -batch` (one round trip per route).
The messages are tiny fixed layouts (rtmsg + DST/GATEWAY/TABLE attributes, 4-byte addresses for AF_INET, 16-byte
for AF_INET6), packed with `struct`; the netlink socket in another namespace comes from
`hubnet.linux.netns.netlink_socket` (never a `setns` of this process). A route's family is its prefix's: one table
object serves both, and every dump, sweep and `foreign` lookup covers both.

Ownership is enforced here, at the lowest layer: a dump returns only routes with our protocol number, deletes
carry (prefix, next hop, protocol) so the kernel itself refuses to remove anyone else's route, and a replace is
only sent when the kernel would replace *our* entry (the first route of the prefix at our metric: IPv4's first
alias, IPv6's route at metric 1024), never a foreign one.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import queue
import socket
import struct
import sys
import threading
from collections.abc import Callable, Collection, Container, Iterator, Sequence
from ipaddress import IPv4Address, IPv6Address
from itertools import repeat
from operator import attrgetter
from typing import Any, Literal, NamedTuple, Protocol, overload

from hubnet.linux.errors import AlreadyExists, LinuxError, translate
from hubnet.linux.netns import netlink_socket
from hubnet.net import Address, Network, address4, address6, network4, network6

Action = Literal["add", "replace", "delete"]
_DumpEnd = Literal["more", "done", "absent"]  # how one read of a dump ends (see `RouteTable._take`)
# Stand for "ours, but not a plain `via` route" (multipath, blackhole, dev-only), one per family so that a route's
# prefix and next hop are always of the same family.
NO_GATEWAY = IPv4Address(0)
NO_GATEWAY6 = IPv6Address(0)
FAMILIES = (socket.AF_INET, socket.AF_INET6)
# The metric the kernel gives a route added without RTA_PRIORITY (as we add them): IPv4 0, IPv6 1024
# (IP6_RT_PRIO_USER). An IPv6 replace hits the first route of the prefix at that metric.
OWN_METRIC = {4: 0, 6: 1024}

_HDR = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_RTM = struct.Struct("=BBBBBBBBI")  # rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
_ATTR = struct.Struct("=HH")
_ATTR4 = struct.Struct("=HH4s")  # an attribute with (at least) a 4-byte value
_PLAIN = struct.Struct("=IHHII BBBBBBBBI HH4s HH4s HH4s HH4s")  # a dumped `via` route: TABLE, DST, GATEWAY, OIF
_PLAIN_TYPES = (15, 1, 5, 4)  # RTA_TABLE, RTA_DST, RTA_GATEWAY, RTA_OIF
_PLAIN_LENGTHS = (8, 8, 8, 8)
# A dumped IPv6 `via` route starts TABLE, DST, PRIORITY, GATEWAY, OIF (then CACHEINFO, PREF: not read).
_PLAIN6 = struct.Struct("=IHHII BBBBBBBBI HH4s HH16s HH4s HH16s HH4s")
_PLAIN6_TYPES = (15, 1, 6, 5, 4)  # RTA_TABLE, RTA_DST, RTA_PRIORITY, RTA_GATEWAY, RTA_OIF
_PLAIN6_LENGTHS = (8, 20, 8, 20, 8)
_ERRNO = struct.Struct("=i")
_U32 = struct.Struct("=I")
_RTM_NEWROUTE, _RTM_DELROUTE, _RTM_GETROUTE = 24, 25, 26
_NLMSG_NOOP, _NLMSG_ERROR, _NLMSG_DONE = 1, 2, 3
_F_REQUEST, _F_ACK, _F_DUMP, _F_REPLACE, _F_EXCL, _F_CREATE, _F_DUMP_INTR = 1, 4, 0x300, 0x100, 0x200, 0x400, 0x10
_RTA_DST, _RTA_GATEWAY, _RTA_PRIORITY, _RTA_TABLE = 1, 5, 6, 15
_SOL_NETLINK, _NETLINK_CAP_ACK, _NETLINK_GET_STRICT_CHK = 270, 10, 12
_RTMGRP_IPV4_ROUTE, _RTMGRP_IPV6_ROUTE = 0x40, 0x400
_SO_RCVBUFFORCE = 33
_NO_IPV6 = (errno.EAFNOSUPPORT, errno.EOPNOTSUPP)  # a kernel without IPv6 (ipv6.disable=1)
_FLAGS: dict[Action, int] = {  # NLM_F_ACK only on the last message of a batch (see `send_batch`)
    "add": _F_REQUEST | _F_CREATE | _F_EXCL,
    "replace": _F_REQUEST | _F_CREATE | _F_REPLACE,
    "delete": _F_REQUEST,
}


class KernelRoute(NamedTuple):
    """One route as dumped, of either family: `next_hop` is NO_GATEWAY / NO_GATEWAY6 (the prefix's family) for
    routes without a single gateway.

    A NamedTuple, not a dataclass: 65,536 of them are built per dump and tuples are ~4x cheaper to create.
    """

    prefix: Network
    next_hop: Address
    protocol: int
    table: int
    metric: int = 0


class RouteOp(NamedTuple):
    """One change; prefix and next hop are of the same family (a mixed op is refused before anything is sent)."""

    action: Action
    prefix: Network
    next_hop: Address


# What `RouteTable.apply` takes: a RouteOp, or any (action, prefix, next hop) tuple (cheaper to build by the 65,536).
Op = tuple[Action, Network, Address]


class Routed(Protocol):
    """Anything with a prefix and a next hop of one family (a route of the domain, a dumped route)."""

    @property
    def prefix(self) -> Network: ...

    @property
    def next_hop(self) -> Address: ...


class Runs(Sequence[Op]):
    """Ops given as runs of one action over routes (deletes, replaces, adds): each op's tuple is built only when
    asked (`send_batch` asks a batch at a time), so 65,536 ops never live at once — the collector would otherwise
    walk them all after the apply."""

    def __init__(self, runs: Sequence[tuple[Action, Sequence[Routed]]]) -> None:
        self._runs = [(action, routes) for action, routes in runs if routes]
        self._len = sum(len(routes) for _, routes in self._runs)

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, index: int) -> Op: ...

    @overload
    def __getitem__(self, index: slice) -> list[Op]: ...

    def __getitem__(self, index: int | slice) -> Op | list[Op]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._len)
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            out: list[Op] = []
            for action, routes in self._runs:
                if start < len(routes) and stop > 0:
                    part = routes[max(start, 0) : stop]
                    out += zip(repeat(action), map(_PREFIX, part), map(_NEXT_HOP, part))
                start, stop = start - len(routes), stop - len(routes)
            return out
        if index < 0:
            index += self._len
        for action, routes in self._runs:
            if 0 <= index < len(routes):
                route = routes[index]
                return action, route.prefix, route.next_hop
            index -= len(routes)
        raise IndexError(index)

    def __iter__(self) -> Iterator[Op]:
        for action, routes in self._runs:
            yield from zip(repeat(action), map(_PREFIX, routes), map(_NEXT_HOP, routes))

    def of(self, action: Action) -> Iterator[Routed]:
        """The routes of `action`'s runs."""
        for kind, routes in self._runs:
            if kind == action:
                yield from routes


_PREFIX, _NEXT_HOP = attrgetter("prefix"), attrgetter("next_hop")


class _Layout(NamedTuple):
    """How to encode one kind of add/replace/delete (see `RouteTable._layout`)."""

    pack: Callable[..., bytes]
    head: bytes  # nlmsghdr length, type, flags (seq and pid follow)
    family: int
    rtm: bytes  # rtmsg after family and dst_len
    dst_attr: bytes
    gw_attr: bytes | None  # None: a route without a gateway
    table_attr: bytes


def no_gateway(route: KernelRoute) -> bool:
    """True for one of our routes that is not a plain `via` route (its next hop is the family's NO_GATEWAY)."""
    return not int(route.next_hop)


def open_socket(netns: str | None, groups: int = 0, rcvbuf: int = 8 << 20) -> socket.socket:
    """A NETLINK_ROUTE socket in `netns` (name or path, None = ours) set up for batches and dumps, bound to the
    multicast `groups`; a missing namespace is NotFound naming it, never created."""
    sock = netlink_socket(netns)
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, rcvbuf)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    for option in (_NETLINK_CAP_ACK, _NETLINK_GET_STRICT_CHK):
        with contextlib.suppress(OSError):  # old kernels: acks carry the request, dumps are filtered here instead
            sock.setsockopt(_SOL_NETLINK, option, 1)
    sock.bind((0, groups))
    return sock


def _messages(buf: memoryview | bytes, size: int) -> Iterator[tuple[int, int, int, int]]:
    """(offset, type, flags, seq) of every netlink message in `buf[:size]`."""
    offset = 0
    while offset + 16 <= size:
        length, kind, flags, seq, _ = _HDR.unpack_from(buf, offset)
        if length < 16:
            return
        yield offset, kind, flags, seq
        offset += (length + 3) & ~3


def spread(count: int) -> list[int]:
    """0 .. count-1 in bit-reversed order (8: 0 4 2 6 1 5 3 7): neighbours go far apart, every index once."""
    order = [0]
    while len(order) < count:  # the reversal of k + 1 bits: the reversal of k bits doubled, then doubled plus one
        doubled = [2 * i for i in order]
        order = doubled + [i + 1 for i in doubled]
    return order if len(order) == count else [i for i in order if i < count]


def parse_route(buf: memoryview | bytes, offset: int) -> KernelRoute | None:
    """Decode an RTM_NEWROUTE/DELROUTE at `offset`; None for families other than IPv4 and IPv6.

    Hot at 65,536 routes: the layout the kernel uses for a plain `via` route (IPv4: TABLE, DST, GATEWAY, OIF;
    IPv6: TABLE, DST, PRIORITY, GATEWAY, OIF, ...) is read with one unpack; anything else goes through the generic
    attribute walk.
    """
    family = buf[offset + 16]
    fast, plain = (_PLAIN6, _plain6) if family == socket.AF_INET6 else (_PLAIN, _plain4)
    f = fast.unpack_from(buf, offset) if len(buf) - offset >= fast.size else None
    route = plain(f) if f is not None and f[5] == family else None
    return route if route is not None else _parse_generic(buf, offset)


def _plain4(f: tuple[Any, ...]) -> KernelRoute | None:
    """The route in `_PLAIN`'s unpacking of an IPv4 message; None when the message is not laid out that way."""
    if f[0] != _PLAIN.size or f[15:26:3] != _PLAIN_TYPES or f[14:26:3] != _PLAIN_LENGTHS:
        return None
    prefix = network4(int.from_bytes(f[19], "big"), f[6])
    hop = _HOPS.get(f[22]) or _hop(f[22])  # (an address is never false)
    return _new_route(KernelRoute, (prefix, hop, f[10], int.from_bytes(f[16], sys.byteorder), 0))


def _plain6(f: tuple[Any, ...]) -> KernelRoute | None:
    """The route in `_PLAIN6`'s unpacking of an IPv6 message (longer: the attributes after OIF are not read)."""
    if f[0] < _PLAIN6.size or f[15:30:3] != _PLAIN6_TYPES or f[14:30:3] != _PLAIN6_LENGTHS:
        return None
    prefix = network6(int.from_bytes(f[19], "big"), f[6])
    hop = _HOPS.get(f[25]) or _hop(f[25])
    table, metric = int.from_bytes(f[16], sys.byteorder), int.from_bytes(f[22], sys.byteorder)
    return _new_route(KernelRoute, (prefix, hop, f[10], table, metric))


_new_route = tuple.__new__  # KernelRoute without its keyword-handling __new__ (65,536 per dump)
# Next hops by their packed bytes: a table has a few hundred next hops for 65,536 routes; one object each (equal
# and immutable, so sharing them is invisible) spares building one per route.
_HOPS: dict[bytes, Address] = {}


def _hop(packed: bytes) -> Address:
    if len(_HOPS) >= 4096:  # bounded: a table with more distinct next hops only loses the sharing
        _HOPS.clear()
    value = int.from_bytes(packed, "big")
    hop = _HOPS[packed] = address4(value) if len(packed) == 4 else address6(value)
    return hop


def _parse_generic(buf: memoryview | bytes, offset: int) -> KernelRoute | None:
    length = _HDR.unpack_from(buf, offset)[0]
    family, dst_len, _, _, table, protocol, _, _, _ = _RTM.unpack_from(buf, offset + 16)
    if family not in FAMILIES:
        return None
    size = 4 if family == socket.AF_INET else 16
    dst, gateway, metric = 0, 0, 0
    pos, end = offset + 28, min(offset + length, len(buf))
    while pos + 4 <= end:
        alen, atype = _ATTR.unpack_from(buf, pos)
        atype &= 0x3FFF
        value = bytes(buf[pos + 4 : pos + alen]) if alen >= 4 and pos + alen <= end else b""
        if atype == _RTA_DST and len(value) == size:
            dst = int.from_bytes(value, "big")
        elif atype == _RTA_GATEWAY and len(value) == size:
            gateway = int.from_bytes(value, "big")
        elif atype == _RTA_TABLE and len(value) == 4:
            table = int.from_bytes(value, sys.byteorder)
        elif atype == _RTA_PRIORITY and len(value) == 4:
            metric = int.from_bytes(value, sys.byteorder)
        if alen < 4:
            break
        pos += (alen + 3) & ~3
    if family == socket.AF_INET:
        return KernelRoute(network4(dst, dst_len), address4(gateway), protocol, table, metric)
    return KernelRoute(network6(dst, dst_len), address6(gateway), protocol, table, metric)


class RouteTable:
    """The routes of protocol `proto` in table `table` of one namespace, through one netlink socket.

    Not thread-safe: callers serialize (the kernel backend holds a lock).
    """

    def __init__(self, *, proto: int, table: int = 254, netns: str | None = None, batch: int = 2048) -> None:
        self.proto, self.table, self.netns, self.batch = proto, table, netns, batch
        self._sock = open_socket(netns)
        self._sock.settimeout(30)  # an acknowledgement that never comes must fail the reconcile, not hang it
        self._buf = bytearray(1 << 20)
        self._view = memoryview(self._buf)
        self._main = _Channel(self._sock, netns, self._buf)
        self._seq = 0
        self._side_channel: _Channel | None = None
        self._rtm_table = table if table < 256 else 252  # RT_TABLE_COMPAT: the RTA_TABLE attribute says which
        self._layouts = {
            (action, family, gateway, ack): self._layout(action, family, gateway, ack)
            for action in _FLAGS
            for family in (4, 6)
            for gateway in (True, False)
            for ack in (True, False)
        }

    def _layout(self, action: Action, family: int, gateway: bool, ack: bool) -> _Layout:
        """The constant parts of one kind of message, packed once: only seq, prefix length, destination and
        gateway vary per route (encoding is a third of the Python time of a 65,536-route apply).

        A delete says scope "nowhere" and type "unspec" (match any) but carries our protocol: the kernel then
        removes only a route with our protocol (and, when given, this exact gateway), in both families."""
        size = 4 if family == 4 else 16
        layout = struct.Struct(f"=8sI4xBB10s4s{size}s" + (f"4s{size}s" if gateway else "") + "8s")
        delete = action == "delete"
        flags = _FLAGS[action] | (_F_ACK if ack else 0)
        head = struct.pack("=IHH", layout.size, _RTM_DELROUTE if delete else _RTM_NEWROUTE, flags)
        rtm = struct.pack(
            "=BBBBBBI", 0, 0, self._rtm_table, self.proto, 255 if delete else 0, 0 if delete else 1, 0
        )  # src_len, tos, table, protocol, scope, type, flags
        family_byte = socket.AF_INET6 if family == 6 else socket.AF_INET
        dst_attr, gw_attr = _ATTR.pack(4 + size, _RTA_DST), _ATTR.pack(4 + size, _RTA_GATEWAY) if gateway else None
        table_attr = _ATTR.pack(8, _RTA_TABLE) + struct.pack("=I", self.table)
        return _Layout(layout.pack, head, family_byte, rtm, dst_attr, gw_attr, table_attr)

    def close(self) -> None:
        self._sock.close()
        if self._side_channel is not None:
            self._side_channel.sock.close()

    def owned(self) -> list[KernelRoute]:
        """Every route of ours in the table, both families (the kernel filters by protocol and table; we filter
        again)."""
        return [r for r in self.dump(owned_only=True) if r.protocol == self.proto and r.table == self.table]

    def dump(self, *, owned_only: bool, families: Collection[int] = FAMILIES) -> list[KernelRoute]:
        """The table's routes of `families` (AF_INET, AF_INET6; IPv4 first), only ours when `owned_only`; each
        family's dump is retried when the kernel flags it as torn."""
        routes: list[KernelRoute] = []
        for family in FAMILIES:
            if family in families:
                routes += self._dump_family(family, self.proto if owned_only else 0)
        return routes

    def _dump_family(self, family: int, proto: int) -> list[KernelRoute]:
        for _ in range(5):
            routes, torn = self._dump_once(family, proto)
            if not torn:
                return routes
        raise LinuxError(f"failed to dump table {self.table}: routes kept changing during the dump")

    def _request_dump(self, family: int, proto: int) -> int:
        """Ask for a dump of our table's `family` routes (of `proto`, 0 = all); its sequence number."""
        self._seq += 1
        seq = self._seq
        rtm = _RTM.pack(family, 0, 0, 0, self._rtm_table, proto, 0, 0, 0)
        body = rtm + _ATTR.pack(8, _RTA_TABLE) + struct.pack("=I", self.table)
        self._send(_HDR.pack(16 + len(body), _RTM_GETROUTE, _F_REQUEST | _F_DUMP, seq, 0) + body)
        return seq

    def _dump_once(self, family: int, proto: int) -> tuple[list[KernelRoute], bool]:
        seq = self._request_dump(family, proto)
        routes: list[KernelRoute] = []
        torn = False
        while True:
            end, torn_now = self._take(self._recv(), seq, family, routes)
            torn = torn or torn_now
            if end == "done":
                return routes, torn
            if end == "absent":
                return [], False

    def _take(
        self,
        size: int,
        seq: int,
        family: int,
        routes: list[KernelRoute],
        view: memoryview | None = None,
        offsets: list[int] | None = None,
    ) -> tuple[_DumpEnd, bool]:
        """Append the routes in one read of dump `seq` (of `family`, in our table) to `routes`; (how the read ends,
        whether the kernel flagged it as torn). The read is in our buffer unless `view` is given; `offsets` gets
        where each route's message starts in it.

        Hot at 65,536 routes: a plain `via` route's message is read with one unpack (header, rtmsg and attributes)
        and never goes through the generic walk below."""
        view, table, torn = self._view if view is None else view, self.table, False
        fast, plain = (_PLAIN6, _plain6) if family == socket.AF_INET6 else (_PLAIN, _plain4)
        fast_size, unpack_fast = fast.size, fast.unpack_from
        offset = 0
        while offset + 16 <= size:
            if size - offset >= fast_size:
                f = unpack_fast(view, offset)
                if f[1] == _RTM_NEWROUTE and f[3] == seq and f[5] == family and not f[2] & _F_DUMP_INTR:
                    route = plain(f)
                    if route is not None:
                        if route.table == table:
                            routes.append(route)
                            if offsets is not None:
                                offsets.append(offset)
                        offset += (f[0] + 3) & ~3
                        continue
            length, kind, flags, mseq, _ = _HDR.unpack_from(view, offset)
            if length < 16:
                break
            start, offset = offset, offset + ((length + 3) & ~3)
            if mseq != seq:
                continue
            if kind == _NLMSG_DONE:
                return "done", torn
            if kind == _NLMSG_ERROR:
                code = -_ERRNO.unpack_from(view, start + 16)[0]
                if code == errno.ENOENT or (family == socket.AF_INET6 and code in _NO_IPV6):
                    return "absent", torn  # the table does not exist yet (or no IPv6 here): nothing of ours in it
                raise translate(code, f"dump table {self.table}")
            torn = torn or bool(flags & _F_DUMP_INTR)
            # The family is checked: a kernel without the family's handler answers with every family's routes.
            if view[start + 16] != family:
                continue
            route = parse_route(view, start)
            if route is not None and route.table == table:
                routes.append(route)
                if offsets is not None:
                    offsets.append(start)
        return "more", torn

    def sweep(
        self, keep: Container[Network], before: Callable[[list[KernelRoute]], None] | None = None
    ) -> tuple[list[KernelRoute], Sweep]:
        """Every route of ours, as `owned()`, while those at a prefix not in `keep` are deleted: (the routes, the
        deletes in flight — `Sweep.wait()` joins them and gives each failure). `before` is told each lot of routes
        about to be deleted, before their deletes are handed over.

        Why: deleting is the kernel's work (~20 µs a route, inside `send()` with the GIL released) and parsing a
        dump is ours (~5 µs a route). A sender thread on a second socket deletes what one read of the dump held
        while this thread parses the next, so a start-up sweep costs about the kernel's deletes alone, as `ip
        route flush` does. Each family's dump is read whole before its first delete goes out (the raw reads of
        65,536 routes take ~40 ms): a dump changed under it could skip routes (IPv6 resumes a changed tree by
        count), so ours never is. Each delete is the dumped message sent back as RTM_DELROUTE, as `ip route flush`
        does: the exact route, our protocol included.

        The reads are parsed, and their routes deleted, in bit-reversed order (`spread`): the kernel's IPv4 trie
        rebalances far more when its leaves go in ascending order, the dump's and `ip route flush`'s (65,536 /24s
        here: 1.2-1.3 s in dump order, 0.47-0.48 s reads spread, ~0.4 s in random order; IPv6 0.33-0.45 s in any
        order).
        """
        sweep, proto = Sweep(self), self.proto
        routes: list[KernelRoute] = []
        try:
            for family in FAMILIES:
                seq, reads = self._read_dump(family, self.proto)
                parsed: list[list[KernelRoute]] = [[] for _ in reads]
                for i in spread(len(reads)):  # deletes far apart in the trie (see the docstring)
                    data, part, where = reads[i], parsed[i], list[int]()
                    self._take(len(data), seq, family, part, memoryview(data), where)
                    picked = [j for j, r in enumerate(part) if r.prefix not in keep and r.protocol == proto]
                    if picked:
                        doomed = [part[j] for j in picked]
                        if before is not None:
                            before(doomed)
                        ends = [where[j] + _U32.unpack_from(data, where[j])[0] for j in picked]
                        sweep.add(doomed, [data[where[j] + 16 : end] for j, end in zip(picked, ends, strict=True)])
                for part in parsed:  # listed in the dump's order all the same
                    routes += part
            sweep.flush()
        except BaseException:
            sweep.wait()  # never a sender thread left behind; what it deleted is gone either way
            raise
        return [r for r in routes if r.protocol == self.proto], sweep

    def _read_dump(self, family: int, proto: int) -> tuple[int, list[bytes]]:
        """One whole dump of `family` as the kernel sent it: (its sequence number, the raw reads; none when the
        table does not exist), read again while the kernel flags it as torn. Only the headers are looked at."""
        unpack_hdr = _HDR.unpack_from
        for _ in range(5):
            seq = self._request_dump(family, proto)
            reads: list[bytes] = []
            torn = False
            end: _DumpEnd = "more"
            while end == "more":
                size = self._recv()
                reads.append(bytes(self._view[:size]))
                offset = 0
                while offset + 16 <= size:
                    length, kind, flags, mseq, _ = unpack_hdr(self._view, offset)
                    if length < 16:
                        break
                    start, offset = offset, offset + ((length + 3) & ~3)
                    if mseq != seq:
                        continue
                    torn = torn or bool(flags & _F_DUMP_INTR)
                    if kind == _NLMSG_DONE:
                        end = "done"
                    elif kind == _NLMSG_ERROR:
                        code = -_ERRNO.unpack_from(self._view, start + 16)[0]
                        if code == errno.ENOENT or (family == socket.AF_INET6 and code in _NO_IPV6):
                            return seq, []
                        raise translate(code, f"dump table {self.table}")
            if not torn:
                return seq, reads
        raise LinuxError(f"failed to dump table {self.table}: routes kept changing during the dump")

    def _side(self) -> _Channel:
        """A second socket for a sender thread that writes while this one reads a dump (opened once)."""
        if self._side_channel is None:
            sock = open_socket(self.netns)
            sock.settimeout(30)
            self._side_channel = _Channel(sock, self.netns)
        return self._side_channel

    def _send(self, data: bytes) -> None:
        self._main.send(data)

    def _recv(self) -> int:
        return self._main.recv()

    def send_batch(self, ops: Sequence[Op], meanwhile: Callable[[], object] | None = None) -> list[int]:
        """Send `ops` `batch` at a time and learn the errno of each (0 = success); `meanwhile` runs on this thread
        once every batch is handed to the sender, while the kernel is still busy with them (work that needs no
        outcome of the ops: it then costs no wall time).

        Only the last message of a batch asks for an acknowledgement (NLM_F_ACK): the kernel reports an error for
        every request that fails whether or not it asked (netlink_rcv_skb), and handles a batch's messages in
        order, so once the last one is acknowledged every failure before it has arrived — and every op without
        one succeeded. One read per batch instead of one per route; a receive queue that overflowed is an error
        (ENOBUFS), never a silent success.

        More than one batch: a sender thread writes each batch and reads its acknowledgement while this thread
        encodes the next. The kernel does its work inside the sender's `send()`, with the GIL released, so the
        encoding (a third of the CPU of a 65,536-route apply) overlaps the kernel's instead of adding to it, and so
        does `meanwhile` (with quick GIL handoffs: the sender waits for the GIL after each batch).
        """
        codes = [0] * len(ops)
        starts = range(0, len(ops), self.batch)
        if len(starts) <= 1:
            for start in starts:
                self._exchange(*self._encode_chunk(ops, start), codes)
            if meanwhile is not None:
                meanwhile()
            return codes
        batches: queue.SimpleQueue[tuple[bytes, int, int, int] | None] = queue.SimpleQueue()
        failure: list[BaseException] = []

        def sender() -> None:
            try:
                for item in iter(batches.get, None):
                    self._exchange(*item, codes)
            except BaseException as exc:  # handed to the caller below
                failure.append(exc)

        thread = threading.Thread(target=sender, name="hubnet-netlink-sender", daemon=True)
        thread.start()
        ended = False
        try:
            with quick_handoffs():
                for start in starts:
                    if failure:
                        break
                    batches.put(self._encode_chunk(ops, start))
                batches.put(None)
                ended = True
                if meanwhile is not None and not failure:
                    meanwhile()
        finally:
            if not ended:
                batches.put(None)
            thread.join()
        if failure:
            raise failure[0]
        return codes

    def _encode_chunk(self, ops: Sequence[Op], start: int) -> tuple[bytes, int, int, int]:
        """The messages of `ops[start:start + batch]`, the last one acknowledged: (data, start, first seq, last)."""
        chunk = ops[start : start + self.batch]
        first = self._seq + 1
        last = first + len(chunk) - 1
        encode = self._encode
        messages = [encode(op, first + i) for i, op in enumerate(chunk[:-1])]
        messages.append(encode(chunk[-1], last, ack=True))
        self._seq = last
        return b"".join(messages), start, first, last

    def _exchange(
        self, data: bytes, start: int, first: int, last: int, codes: list[int], side: _Channel | None = None
    ) -> None:
        """Write one batch and read until its last message's acknowledgement; the errno of every failed message
        (sequence numbers `first`..`last`) goes to `codes[start + seq - first]`. On our socket, or on `side`."""
        send, recv = (self._send, self._recv) if side is None else (side.send, side.recv)
        buf = self._buf if side is None else side.buf
        view, unpack_hdr, unpack_errno = memoryview(buf), _HDR.unpack_from, _ERRNO.unpack_from
        send(data)
        done = False
        while not done:
            size, offset = recv(), 0
            while offset + 16 <= size:
                length, kind, _, seq, _ = unpack_hdr(view, offset)
                if kind == _NLMSG_ERROR and first <= seq <= last:
                    codes[start + seq - first] = -unpack_errno(buf, offset + 16)[0]
                    done = seq == last
                offset += max((length + 3) & ~3, 16)

    def _encode(self, op: Op, seq: int, ack: bool = False) -> bytes:
        action, prefix, next_hop = op
        family = prefix.version
        if next_hop.version != family:  # an IPv6 prefix via an IPv4 next hop: a bug upstream, never sent
            raise ValueError(f"route {prefix} via {next_hop}: prefix and next hop are of different families")
        layout = self._layouts[action, family, int(next_hop) != 0, ack]
        pack, head, family_byte, rtm, dst_attr, gw_attr, table_attr = layout
        dst = prefix.network_address.packed
        if gw_attr is None:
            return pack(head, seq, family_byte, prefix.prefixlen, rtm, dst_attr, dst, table_attr)
        return pack(head, seq, family_byte, prefix.prefixlen, rtm, dst_attr, dst, gw_attr, next_hop.packed, table_attr)

    def apply(self, ops: Sequence[Op], meanwhile: Callable[[], object] | None = None) -> dict[int, LinuxError]:
        """Apply ops idempotently; failures by op index (absent = success). `meanwhile` runs while the kernel works
        (`send_batch`).

        A delete of a route that is already gone succeeds; an add that finds the prefix taken (EEXIST) becomes a
        replace when the holder is ours and fails when it is foreign; a replace aimed at a foreign route fails.
        """
        guarded = self._guard_replaces(ops)
        index = [i for i in range(len(ops)) if i not in guarded] if guarded else range(len(ops))
        codes = self.send_batch([ops[i] for i in index] if guarded else ops, meanwhile)
        failed: dict[int, LinuxError] = dict(guarded)
        retry: list[int] = []
        for i, code in zip(index, codes, strict=True):
            if not code:
                continue
            action, prefix, next_hop = ops[i]
            if code == errno.EEXIST and action == "add":
                retry.append(i)
            elif code not in (errno.ESRCH, errno.ENOENT) or action != "delete":  # gone already: success
                failed[i] = translate(code, f"{action} route {prefix} via {next_hop} proto {self.proto}")
        if retry:
            # EEXIST: someone holds the prefix. Ours (a race) → replace it; foreign → refuse, never clobber.
            as_replace = [RouteOp("replace", ops[i][1], ops[i][2]) for i in retry]
            for j, err in self.apply(as_replace).items():
                failed[retry[j]] = err
        return failed

    def _guard_replaces(self, ops: Sequence[Op]) -> dict[int, LinuxError]:
        """Replaces the kernel would aim at a foreign route: NLM_F_REPLACE hits the first route of the prefix at our
        metric (IPv4: the first alias, metric 0; IPv6: metric 1024 — a foreign route there refuses the replace)."""
        if isinstance(ops, Runs):  # without a tuple per op
            wanted = {route.prefix for route in ops.of("replace")}
        else:
            wanted = {prefix for action, prefix, _ in ops if action == "replace"}
        if not wanted:
            return {}
        families = {socket.AF_INET6 if p.version == 6 else socket.AF_INET for p in wanted}
        holders: dict[Network, KernelRoute] = {}
        for route in self.dump(owned_only=False, families=families):
            if route.prefix in wanted and route.metric == OWN_METRIC[route.prefix.version]:
                holders.setdefault(route.prefix, route)
        refused: dict[int, LinuxError] = {}
        for i, (action, prefix, next_hop) in enumerate(ops):
            holder = holders.get(prefix)
            if action == "replace" and holder is not None and holder.protocol != self.proto:
                refused[i] = AlreadyExists(
                    f"failed to program route {prefix} via {next_hop}: table {self.table} holds a foreign "
                    f"route for it (via {holder.next_hop} proto {holder.protocol}); hubnet never replaces it",
                    errno=errno.EEXIST,
                )
        return refused


_HANDOFF = 0.0005  # the GIL switch interval while a sender thread waits on the kernel (Python's default: 5 ms)
_handoffs_lock = threading.Lock()
_handoffs_depth = 0
_handoffs_saved = 0.0


@contextlib.contextmanager
def quick_handoffs() -> Iterator[None]:
    """A short GIL switch interval while this thread computes beside a sender thread: after each write the sender
    needs the GIL back to hand the kernel the next batch, and at the default 5 ms the kernel would sit idle for
    most of that. Process-wide, so nested and concurrent users share one saved value."""
    global _handoffs_depth, _handoffs_saved
    with _handoffs_lock:
        if _handoffs_depth == 0:
            _handoffs_saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_HANDOFF, _handoffs_saved))
        _handoffs_depth += 1
    try:
        yield
    finally:
        with _handoffs_lock:
            _handoffs_depth -= 1
            if _handoffs_depth == 0:
                sys.setswitchinterval(_handoffs_saved)


class _Channel:
    """A netlink socket and its receive buffer (the table's own, or a second one for a sender thread)."""

    def __init__(self, sock: socket.socket, netns: str | None, buf: bytearray | None = None) -> None:
        self.sock, self.netns, self.buf = sock, netns, bytearray(1 << 20) if buf is None else buf

    def send(self, data: bytes) -> None:
        try:
            self.sock.send(data)
        except OSError as exc:
            raise LinuxError(f"failed to write to netlink in netns {self.netns!r}: {exc}", errno=exc.errno) from exc

    def recv(self) -> int:
        try:
            return self.sock.recv_into(self.buf)
        except OSError as exc:
            raise LinuxError(f"failed to read from netlink in netns {self.netns!r}: {exc}", errno=exc.errno) from exc


SWEEP_BATCH = 8192  # deletes per write of a sweep (the first writes are smaller, so the kernel starts early)


class Sweep:
    """Deletes written by a sender thread on the table's second socket while the caller goes on (`RouteTable.sweep`);
    `routes` are the routes whose deletes were handed over, in order. `wait()` joins the thread: a delete of a route
    already gone succeeded, any other error is a failure, by index in `routes`.

    No write asks for an acknowledgement: after each write the sender needs the GIL back (up to 5 ms while the caller
    parses), so it only ever writes; `wait()` closes the sweep with one acknowledged no-op as a barrier — the kernel
    handles a socket's messages in order and reports every failed request, asked or not, so once the barrier's
    acknowledgement is read every failure is too. A receive queue that overflowed with failures is an error
    (ENOBUFS), never a silent success. Only the caller's thread calls `add`, `flush` and `wait`.
    """

    def __init__(self, table: RouteTable) -> None:
        self.routes: list[KernelRoute] = []
        self._bodies: list[bytes] = []
        self._table = table
        self._firsts: list[int] = []  # each write's first sequence number ...
        self._starts: list[int] = []  # ... and the index of its first op
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._side: _Channel | None = None
        self._failure: list[BaseException] = []
        self._sent = 0  # routes[:_sent] are encoded and queued
        self._next = 1024  # the size of the next write, doubling up to SWEEP_BATCH

    def add(self, routes: Sequence[KernelRoute], bodies: Sequence[bytes]) -> None:
        """Delete `routes`, each by its message `bodies` (everything after the netlink header: rtmsg and
        attributes, as dumped): queued a write at a time (the last, short one by `flush`)."""
        self.routes.extend(routes)
        self._bodies.extend(bodies)
        while len(self.routes) - self._sent >= self._next:
            self._queue_write(self._sent + self._next)
            self._next = min(2 * self._next, SWEEP_BATCH)

    def flush(self) -> None:
        """Queue whatever `add` has not."""
        if len(self.routes) > self._sent:
            self._queue_write(len(self.routes))

    def _queue_write(self, end: int) -> None:
        table, start = self._table, self._sent
        if self._side is None:
            self._side = table._side()
            self._thread = threading.Thread(
                target=self._send_all, args=(self._side,), name="hubnet-netlink-sweep", daemon=True
            )
            self._thread.start()
        self._firsts.append(table._seq + 1)
        self._starts.append(start)
        seq, pack, parts = table._seq, _HDR.pack, list[bytes]()
        for body in self._bodies[start:end]:
            seq += 1
            parts += (pack(16 + len(body), _RTM_DELROUTE, _F_REQUEST, seq, 0), body)  # no acknowledgement asked
        table._seq = seq
        self._queue.put(b"".join(parts))
        self._sent = end

    def _send_all(self, side: _Channel) -> None:
        try:
            for data in iter(self._queue.get, None):
                if not self._failure:
                    side.send(data)
        except BaseException as exc:  # handed to the caller by wait()
            self._failure.append(exc)

    def wait(self) -> dict[int, LinuxError]:
        """Join the sender and read every failure; the failed deletes by index in `routes`. Raises what broke the
        sender or the reading (a socket error, an overflow: then which deletes happened is not known)."""
        side, thread = self._side, self._thread
        if side is None or thread is None:
            return {}
        self._queue.put(None)
        thread.join()
        self._side = self._thread = None
        if self._failure:
            raise self._failure[0]
        table = self._table
        table._seq += 1
        barrier = table._seq
        side.send(_HDR.pack(16, _NLMSG_NOOP, _F_REQUEST | _F_ACK, barrier, 0))
        codes: dict[int, int] = {}
        view = memoryview(side.buf)
        while True:
            size, offset = side.recv(), 0
            while offset + 16 <= size:
                length, kind, _, seq, _ = _HDR.unpack_from(view, offset)
                offset += max((length + 3) & ~3, 16)
                if kind != _NLMSG_ERROR:
                    continue
                code = -_ERRNO.unpack_from(view, offset - ((length + 3) & ~3) + 16)[0]
                if seq == barrier:
                    if code:
                        raise translate(code, "netlink barrier")
                    return self._failures(codes)
                at = bisect.bisect_right(self._firsts, seq) - 1
                if code and at >= 0:
                    codes[self._starts[at] + seq - self._firsts[at]] = code

    def _failures(self, codes: dict[int, int]) -> dict[int, LinuxError]:
        proto, routes = self._table.proto, self.routes
        return {
            i: translate(code, f"delete route {routes[i].prefix} via {routes[i].next_hop} proto {proto}")
            for i, code in sorted(codes.items())
            if i < len(routes) and code not in (errno.ESRCH, errno.ENOENT)
        }


RouteEvent = Literal["new", "replace", "delete", "overrun"]


class RouteMonitor:
    """A thread listening to IPv4 and IPv6 route notifications of one namespace; calls `on_event(kind, route)` for
    routes in `table` (kind "overrun" with route None when the kernel dropped notifications: state unknown).

    The callback runs on the monitor thread and must be quick (the reconciler's `trigger()` is).
    """

    def __init__(
        self, *, table: int, netns: str | None, on_event: Callable[[RouteEvent, KernelRoute | None], None]
    ) -> None:
        self.table, self.on_event = table, on_event
        self._sock = open_socket(netns, groups=_RTMGRP_IPV4_ROUTE | _RTMGRP_IPV6_ROUTE, rcvbuf=4 << 20)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hubnet-route-monitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._sock.close()

    def _run(self) -> None:
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        while not self._stop.is_set():
            try:
                size = self._sock.recv_into(buf)
            except TimeoutError:
                continue
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.on_event("overrun", None)
                    continue
                return  # socket closed by stop()
            for offset, kind, flags, _ in _messages(view, size):
                if kind not in (_RTM_NEWROUTE, _RTM_DELROUTE):
                    continue
                route = parse_route(view, offset)
                if route is None or route.table != self.table:
                    continue
                event: RouteEvent = "delete" if kind == _RTM_DELROUTE else "new"
                if kind == _RTM_NEWROUTE and flags & _F_REPLACE:
                    event = "replace"
                self.on_event(event, route)
