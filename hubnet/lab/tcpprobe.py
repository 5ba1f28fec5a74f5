"""The TCP half of `lab check`: a responder per pod and every ordered pair probed, on one thread, one selector.

Each responder listens on its pod's IP inside the pod's namespace and answers every connection with the peer
address it saw and its own pod name. Probes run in a bounded window of non-blocking connects (sockets created in
the source pod's namespace). One thread means no lock or GIL contention between responders and probes, so a
slow pass is the network's doing, not ours.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import selectors
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from hubnet.linux.labnet import socket_in

CHECK_PORT = 40007
WINDOW = 32  # probes in flight (bursts of ARP floods overrun the kernel's per-CPU backlog on a busy machine)
TIMEOUT = 5.0  # per probe: long enough for a lost ARP or SYN to be retried by the kernel
TRANSLATED = "source address translated"


class Endpoint(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def netns(self) -> str: ...
    @property
    def ip(self) -> str: ...


E = TypeVar("E", bound=Endpoint)


@dataclass
class Pair:
    source: str
    target: str
    ok: bool
    seen: str | None = None  # the source address the target saw
    error: str | None = None
    attempts: int = 1
    family: int = 4  # the IP version the pair was probed over

    @property
    def translated(self) -> bool:
        return self.error == TRANSLATED


def judge(source: Endpoint, target: Endpoint, reply: str) -> Pair:
    """Pure: the verdict on one answer — the right pod answered, and it saw the source pod's own address."""
    words = reply.split()
    if len(words) != 2 or words[1] != target.name:
        return Pair(source.name, target.name, ok=False, error=f"unexpected answer {reply.strip()!r}")
    if not _same_ip(words[0], source.ip):
        return Pair(source.name, target.name, ok=False, seen=words[0], error=TRANSLATED)
    return Pair(source.name, target.name, ok=True, seen=words[0])


def _same_ip(seen: str, expected: str) -> bool:
    """Equal addresses whatever their spelling (IPv6 text has several; an IPv4 peer of an IPv6 socket is mapped)."""
    try:
        a, b = ipaddress.ip_address(seen), ipaddress.ip_address(expected)
    except ValueError:
        return False
    return a == b


def family(ip: str) -> int:
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


@dataclass
class _Flight:
    source: Endpoint
    target: Endpoint
    sock: socket.socket
    fd: int
    deadline: float
    buf: bytes = field(default=b"")


def ordered_pairs(pods: Sequence[E]) -> list[tuple[E, E]]:
    """Every ordered pair, interleaved so that probes in flight together come from different source pods."""
    n = len(pods)
    return [(pods[i], pods[(i + k) % n]) for k in range(1, n) for i in range(n)]


def probe_all(pods: Sequence[Endpoint], pairs: Sequence[tuple[Endpoint, Endpoint]], window: int = WINDOW) -> list[Pair]:
    """Probe every (source, target) in `pairs`; results in the same order. Never raises for network failures."""
    sel = selectors.DefaultSelector()
    listeners = [_listen(pod) for pod in pods]
    for sock, pod in zip(listeners, pods, strict=True):
        sel.register(sock, selectors.EVENT_READ, pod.name)
    results: dict[tuple[str, str], Pair] = {}
    inflight: dict[int, _Flight] = {}
    queue = deque(pairs)

    def done(flight: _Flight, pair: Pair) -> None:
        sel.unregister(flight.sock)
        del inflight[flight.fd]
        flight.sock.close()
        results[(pair.source, pair.target)] = pair

    try:
        while queue or inflight:
            while queue and len(inflight) < window:
                _start(sel, inflight, *queue.popleft(), on_fail=lambda p: results.__setitem__((p.source, p.target), p))
            for key, _mask in sel.select(timeout=0.05):
                if isinstance(key.data, str):
                    _answer(key.fileobj, key.data)  # type: ignore[arg-type]
                else:
                    _advance(sel, key.data, done)
            now = time.monotonic()
            for flight in [f for f in inflight.values() if f.deadline < now]:
                done(flight, Pair(flight.source.name, flight.target.name, ok=False, error="timed out"))
    finally:
        for flight in list(inflight.values()):
            flight.sock.close()
        for sock in listeners:
            sock.close()
        sel.close()
    return [results[(s.name, t.name)] for s, t in pairs]


def _listen(pod: Endpoint) -> socket.socket:
    sock = socket_in(pod.netns, family=family(pod.ip))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((pod.ip, CHECK_PORT))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _answer(listener: socket.socket, name: str) -> None:
    """Accept every pending connection; tell each peer the address we saw and who we are."""
    while True:
        try:
            conn, address = listener.accept()  # (host, port) or, for IPv6, (host, port, flowinfo, scope)
        except (BlockingIOError, InterruptedError):
            return
        with conn, contextlib.suppress(OSError):  # a failed answer shows up on the prober's side
            conn.send(f"{address[0]} {name}\n".encode())


def _start(
    sel: selectors.BaseSelector,
    inflight: dict[int, _Flight],
    source: Endpoint,
    target: Endpoint,
    on_fail: Callable[[Pair], None],
) -> None:
    sock = socket_in(source.netns, family=family(target.ip))
    sock.setblocking(False)
    code = sock.connect_ex((target.ip, CHECK_PORT))
    if code not in (0, errno.EINPROGRESS):
        sock.close()
        on_fail(Pair(source.name, target.name, ok=False, error=os.strerror(code)))
        return
    flight = _Flight(source, target, sock, sock.fileno(), time.monotonic() + TIMEOUT)
    inflight[sock.fileno()] = flight
    sel.register(sock, selectors.EVENT_WRITE, flight)


def _advance(sel: selectors.BaseSelector, flight: _Flight, done: Callable[[_Flight, Pair], None]) -> None:
    """Connected → wait for the answer; answer complete (newline or EOF) → verdict; error → failure."""
    src, dst = flight.source, flight.target
    code = flight.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if code:
        done(flight, Pair(src.name, dst.name, ok=False, error=os.strerror(code)))
        return
    if sel.get_key(flight.sock).events == selectors.EVENT_WRITE:
        sel.modify(flight.sock, selectors.EVENT_READ, flight)
        return
    try:
        data = flight.sock.recv(256)
    except (BlockingIOError, InterruptedError):
        return
    except OSError as exc:
        done(flight, Pair(src.name, dst.name, ok=False, error=str(exc)))
        return
    flight.buf += data
    if b"\n" in flight.buf or not data:
        done(flight, judge(src, dst, flight.buf.decode(errors="replace")))
