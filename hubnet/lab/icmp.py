"""ICMP echo over a raw socket (stdlib only): the lab's reachability probe and RTT meter, no `ping` needed."""

from __future__ import annotations

import os
import select
import socket
import struct
import time

ECHO_REQUEST, ECHO_REPLY = 8, 0
ECHO_REQUEST6, ECHO_REPLY6 = 128, 129  # ICMPv6 (RFC 4443): the kernel fills in the checksum of a raw ICMPv6 socket


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int, payload: bytes = b"hubnet-lab") -> bytes:
    header = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, ident, seq)
    return struct.pack("!BBHHH", ECHO_REQUEST, 0, checksum(header + payload), ident, seq) + payload


def is_reply(packet: bytes, source: str, ident: int, seq: int) -> bool:
    """True when `packet` (an IPv4 datagram from a raw socket) is the echo reply from `source` to (ident, seq)."""
    if len(packet) < 28:
        return False
    ihl = (packet[0] & 0x0F) * 4
    kind, _, _, r_ident, r_seq = struct.unpack("!BBHHH", packet[ihl : ihl + 8])
    return socket.inet_ntoa(packet[12:16]) == source and (kind, r_ident, r_seq) == (ECHO_REPLY, ident, seq)


def echo_request6(ident: int, seq: int, payload: bytes = b"hubnet-lab") -> bytes:
    return struct.pack("!BBHHH", ECHO_REQUEST6, 0, 0, ident, seq) + payload


def is_reply6(packet: bytes, ident: int, seq: int) -> bool:
    """True when `packet` (an ICMPv6 message: a raw ICMPv6 socket strips the IPv6 header) is the echo reply to
    (ident, seq); the sender is checked by the caller from recvfrom's address."""
    if len(packet) < 8:
        return False
    kind, _, _, r_ident, r_seq = struct.unpack("!BBHHH", packet[:8])
    return (kind, r_ident, r_seq) == (ECHO_REPLY6, ident, seq)


def ping(sock: socket.socket, address: str, seq: int, timeout: float) -> float | None:
    """One echo on raw ICMP (or ICMPv6, by the socket's family) socket `sock`; the round trip in seconds, or None
    on timeout."""
    ident = (os.getpid() ^ id(sock)) & 0xFFFF
    started = time.perf_counter()
    if sock.family == socket.AF_INET6:
        return _ping6(sock, address, ident, seq, started + timeout, started)
    sock.sendto(echo_request(ident, seq), (address, 0))
    deadline = started + timeout
    while (left := deadline - time.perf_counter()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            break
        packet = sock.recv(2048)
        if is_reply(packet, address, ident, seq):
            return time.perf_counter() - started
    return None


def _ping6(sock: socket.socket, address: str, ident: int, seq: int, deadline: float, started: float) -> float | None:
    sock.sendto(echo_request6(ident, seq), (address, 0))
    want = socket.inet_pton(socket.AF_INET6, address)
    while (left := deadline - time.perf_counter()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            break
        packet, peer = sock.recvfrom(2048)
        if socket.inet_pton(socket.AF_INET6, peer[0].split("%")[0]) == want and is_reply6(packet, ident, seq):
            return time.perf_counter() - started
    return None


def reachable(sock: socket.socket, address: str, tries: int = 3, timeout: float = 1.0) -> bool:
    return any(ping(sock, address, seq, timeout) is not None for seq in range(1, tries + 1))
