"""Raw rtnetlink for a pod's attachment: a veth pair made whole in one request, and a namespace's address, route
and link-state changes sent as one batch with one acknowledgement.

Why not pyroute2 here: an IPRoute handle costs ~0.4 ms to open and each request ~0.5 ms of Python around a kernel
operation of ~0.05 ms; a pod ADD is a handful of tiny fixed-layout messages, packed here with `struct` (the style
of `hubnet.linux.routes`). A batch asks for one acknowledgement, on its last message: the kernel handles a send's
messages in order and reports every failed one whether or not it asked (netlink_rcv_skb), so once the last one is
acknowledged each message's outcome is known. Sockets in another namespace come from `netns.netlink_socket`.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import struct
from collections.abc import Sequence
from typing import NamedTuple

from hubnet.linux import netns
from hubnet.linux.errors import LinuxError, translate

HDR = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
ATTR = struct.Struct("=HH")
_U32 = struct.Struct("=I")
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 17, 18, 20, 24
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_F_REQUEST, _F_ACK, _F_EXCL, _F_CREATE = 1, 4, 0x200, 0x400
_NLA_F_NESTED = 0x8000
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MASTER, IFLA_LINKINFO, IFLA_IFALIAS = 1, 3, 10, 18, 20
IFLA_NET_NS_FD, IFLA_EXT_MASK = 28, 29
_IFLA_INFO_KIND, _IFLA_INFO_DATA, _VETH_INFO_PEER = 1, 2, 1
_RTEXT_FILTER_SKIP_STATS = 1 << 3
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
IFA_F_NODAD = 0x02
RTA_OIF, RTA_GATEWAY, RTA_TABLE = 4, 5, 15
IFF_UP = 1
_RT_TABLE_MAIN, _RTPROT_STATIC, _RT_SCOPE_UNIVERSE, _RTN_UNICAST = 254, 4, 0, 1
_SOL_NETLINK, _NETLINK_CAP_ACK = 270, 10
RTMGRP_LINK = 1
_AF = {4: socket.AF_INET, 6: socket.AF_INET6}


class Message(NamedTuple):
    """One request of a batch: its type, flags (without NLM_F_REQUEST/ACK), body, and what it does (for errors)."""

    kind: int
    flags: int
    body: bytes
    what: str


def attr(kind: int, payload: bytes) -> bytes:
    """One netlink attribute, padded to 4 bytes."""
    size = 4 + len(payload)
    return ATTR.pack(size, kind) + payload + b"\0" * (-size % 4)


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _ifinfo(index: int = 0, up: bool = False) -> bytes:
    return _IFINFO.pack(socket.AF_UNSPEC, 0, index, IFF_UP if up else 0, IFF_UP if up else 0)


def new_veth(host: str, host_mac: str, master: int, peer: str, peer_mac: str, peer_netns_fd: int) -> Message:
    """Create a veth pair: `host` enslaved to `master` and up; `peer` created (down) inside the namespace of
    `peer_netns_fd`. Both MACs preset. Fails with EEXIST (creating neither end) when a name is taken.

    The peer cannot be brought up in this request: the kernel configures it before the pair is linked, and a veth
    without its peer refuses to open (ENOTCONN)."""
    peer_info = _ifinfo() + attr(IFLA_IFNAME, peer.encode() + b"\0") + attr(IFLA_ADDRESS, _mac(peer_mac))
    peer_info += attr(IFLA_NET_NS_FD, _U32.pack(peer_netns_fd))
    data = attr(_IFLA_INFO_DATA | _NLA_F_NESTED, attr(_VETH_INFO_PEER, peer_info))
    linkinfo = attr(_IFLA_INFO_KIND, b"veth\0") + data
    body = _ifinfo(up=True) + attr(IFLA_IFNAME, host.encode() + b"\0") + attr(IFLA_ADDRESS, _mac(host_mac))
    body += attr(IFLA_MASTER, _U32.pack(master)) + attr(IFLA_LINKINFO | _NLA_F_NESTED, linkinfo)
    return Message(RTM_NEWLINK, _F_CREATE | _F_EXCL, body, f"create veth {host!r} with peer {peer!r}")


def set_alias(name: str, alias: str) -> Message:
    """Set IFLA_IFALIAS of the link `name` (the kernel ignores the attribute in a creating request)."""
    body = _ifinfo() + attr(IFLA_IFNAME, name.encode() + b"\0") + attr(IFLA_IFALIAS, alias.encode()[:255])
    return Message(RTM_NEWLINK, 0, body, f"set alias of {name!r}")


def set_up(index: int, name: str) -> Message:
    return Message(RTM_NEWLINK, 0, _ifinfo(index, up=True), f"set link {name} up")


def delete_link(name: str) -> Message:
    return Message(RTM_DELLINK, 0, _ifinfo() + attr(IFLA_IFNAME, name.encode() + b"\0"), f"delete link {name!r}")


def add_address(index: int, version: int, ip: bytes, prefixlen: int, broadcast: bytes | None, what: str) -> Message:
    """Add an address (IPv6: IFA_F_NODAD, usable at once); fails with EEXIST when it is there already."""
    flags = IFA_F_NODAD if version == 6 else 0
    body = _IFADDR.pack(_AF[version], prefixlen, flags, 0, index) + attr(IFA_LOCAL, ip) + attr(IFA_ADDRESS, ip)
    if broadcast is not None:
        body += attr(IFA_BROADCAST, broadcast)
    return Message(RTM_NEWADDR, _F_CREATE | _F_EXCL, body, what)


def add_default_route(index: int, version: int, gateway: bytes, what: str) -> Message:
    """Add `default via gateway dev index` to the main table (proto static), exclusively: EEXIST when the table
    has a default route of the family already."""
    rtm = _RTMSG.pack(_AF[version], 0, 0, 0, _RT_TABLE_MAIN, _RTPROT_STATIC, _RT_SCOPE_UNIVERSE, _RTN_UNICAST, 0)
    body = rtm + attr(RTA_TABLE, _U32.pack(_RT_TABLE_MAIN)) + attr(RTA_GATEWAY, gateway)
    body += attr(RTA_OIF, _U32.pack(index))
    return Message(RTM_NEWROUTE, _F_CREATE | _F_EXCL, body, what)


class Socket:
    """A NETLINK_ROUTE socket in one namespace (None: the caller's), for requests and batches. Not thread-safe."""

    def __init__(self, netns_path: str | None = None, *, sock: socket.socket | None = None) -> None:
        self.netns = netns_path
        self._sock = sock if sock is not None else netns.netlink_socket(netns_path)
        with contextlib.suppress(OSError):  # acks without the request echoed back: less to read
            self._sock.setsockopt(_SOL_NETLINK, _NETLINK_CAP_ACK, 1)
        self._sock.settimeout(30)  # an acknowledgement that never comes fails the call instead of hanging it
        self._seq = 0
        self._buf = bytearray(64 << 10)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def batch(self, messages: Sequence[Message]) -> list[int]:
        """Send `messages` in one write, only the last acknowledged; the errno of each (0: success), in order."""
        first = self._seq + 1
        last = self._seq + len(messages)
        out = []
        for i, m in enumerate(messages):
            flags = _F_REQUEST | m.flags | (_F_ACK if i == len(messages) - 1 else 0)
            out.append(HDR.pack(16 + len(m.body), m.kind, flags, first + i, 0) + m.body)
        self._seq = last
        self._send(b"".join(out))
        codes = [0] * len(messages)
        while True:
            size, offset = self._recv(), 0
            while offset + 16 <= size:
                length, kind, _, seq, _ = HDR.unpack_from(self._buf, offset)
                if kind == _NLMSG_ERROR and first <= seq <= last:
                    codes[seq - first] = -struct.unpack_from("=i", self._buf, offset + 16)[0]
                    if seq == last:
                        return codes
                offset += max((length + 3) & ~3, 16)

    def run(self, messages: Sequence[Message], *, tolerate: Sequence[int] = ()) -> list[int]:
        """`batch`, raising the first failure (as LinuxError naming its message) whose errno is not in `tolerate`;
        returns the codes."""
        codes = self.batch(messages)
        for m, code in zip(messages, codes, strict=True):
            if code and code not in tolerate:
                raise translate(code, m.what)
        return codes

    def index_of(self, name: str) -> int | None:
        """The index of link `name` in this namespace, or None (one RTM_GETLINK, statistics left out)."""
        self._seq += 1
        body = _ifinfo() + attr(IFLA_IFNAME, name.encode() + b"\0")
        body += attr(IFLA_EXT_MASK, _U32.pack(_RTEXT_FILTER_SKIP_STATS))
        self._send(HDR.pack(16 + len(body), RTM_GETLINK, _F_REQUEST, self._seq, 0) + body)
        while True:
            size, offset = self._recv(), 0
            while offset + 16 <= size:
                length, kind, _, seq, _ = HDR.unpack_from(self._buf, offset)
                if seq == self._seq and kind == RTM_NEWLINK:
                    return int(_IFINFO.unpack_from(self._buf, offset + 16)[2])
                if seq == self._seq and kind == _NLMSG_ERROR:
                    code = -struct.unpack_from("=i", self._buf, offset + 16)[0]
                    if code in (errno.ENODEV, errno.ENOENT):
                        return None
                    raise translate(code, f"get link {name!r}")
                offset += max((length + 3) & ~3, 16)

    def _send(self, data: bytes) -> None:
        try:
            self._sock.send(data)
        except OSError as exc:
            raise LinuxError(f"failed to write to netlink in netns {self.netns!r}: {exc}", errno=exc.errno) from None

    def _recv(self) -> int:
        try:
            return self._sock.recv_into(self._buf)
        except OSError as exc:
            raise LinuxError(f"failed to read from netlink in netns {self.netns!r}: {exc}", errno=exc.errno) from None
