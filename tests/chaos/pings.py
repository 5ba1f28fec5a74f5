"""Paced ICMP echo streams between lab pods, counted per request: the data-plane probe of the lab chaos tests.

One raw ICMP socket per source pod (created inside the pod's namespace), one echo identifier per target. A sender
thread sends one request to every target each `interval` on an absolute schedule (a slow iteration does not shift
the ones after it); a receiver thread files each reply under (target, seq). A reply only counts when it carries our
identifier and sequence number and comes from the address we sent to (a request answered by someone else does not
count; source NAT is checked by `hubnet lab check`, not here). The sender records its longest pause: a starved sender
catches up in a burst, and the window it skipped was not probed.
"""

from __future__ import annotations

import itertools
import random
import select
import socket
import threading
import time
from dataclasses import dataclass, field

from hubnet.lab.icmp import ECHO_REPLY, echo_request
from hubnet.linux.labnet import socket_in

LINGER = 2.0  # seconds to wait for the last replies after the last request


@dataclass
class Stream:
    """One source pod → one target address."""

    source: str  # the source pod's name
    target: str  # the target pod's address
    ident: int
    sent: dict[int, float] = field(default_factory=dict)  # seq -> monotonic send time
    replies: dict[int, float] = field(default_factory=dict)  # seq -> round trip (s)

    @property
    def lost(self) -> list[int]:
        return sorted(set(self.sent) - set(self.replies))

    def worst_gap(self) -> float:
        """The longest time between two requests that got answers (s): how long the stream was cut, if at all."""
        answered = sorted(self.sent[s] for s in self.replies if s in self.sent)
        return max((b - a for a, b in itertools.pairwise(answered)), default=0.0)


class PacedPings:
    """Echo requests every `interval` from pod namespace `netns` to each of `targets`, until `stop()`."""

    def __init__(self, source: str, netns: str, targets: list[str], interval: float = 0.1) -> None:
        self.interval = interval
        self.max_send_gap = 0.0  # the longest time between two rounds of requests (s)
        self.sock = socket_in(netns, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        idents = random.sample(range(1, 0xFFFF), len(targets))
        self.streams = {(t, i): Stream(source, t, i) for t, i in zip(targets, idents, strict=True)}
        self._by_ident = {s.ident: s for s in self.streams.values()}
        self._stop_sending = threading.Event()
        self._stop_receiving = threading.Event()
        self._sender = threading.Thread(target=self._send, name=f"ping-send-{source}", daemon=True)
        self._receiver = threading.Thread(target=self._receive, name=f"ping-recv-{source}", daemon=True)

    def start(self) -> PacedPings:
        self._receiver.start()
        self._sender.start()
        return self

    def stop_sending(self) -> None:
        self._stop_sending.set()
        self._sender.join()

    def finish(self) -> list[Stream]:
        """Stop receiving and close (call after `stop_sending` and a LINGER for the last replies); the record."""
        self._stop_receiving.set()
        self._receiver.join()
        self.sock.close()
        return list(self.streams.values())

    def _send(self) -> None:
        started = last = time.monotonic()
        seq = 0
        while not self._stop_sending.is_set():
            seq += 1
            now = time.monotonic()
            self.max_send_gap, last = max(self.max_send_gap, now - last), now
            for stream in self.streams.values():
                stream.sent[seq & 0xFFFF] = time.monotonic()
                self.sock.sendto(echo_request(stream.ident, seq & 0xFFFF), (stream.target, 0))
            self._stop_sending.wait(max(0.0, started + seq * self.interval - time.monotonic()))

    def _receive(self) -> None:
        while not self._stop_receiving.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.1)
            if not ready:
                continue
            packet = self.sock.recv(2048)
            now = time.monotonic()
            ihl = (packet[0] & 0x0F) * 4
            if len(packet) < ihl + 8 or packet[ihl] != ECHO_REPLY:
                continue
            ident, seq = int.from_bytes(packet[ihl + 4 : ihl + 6]), int.from_bytes(packet[ihl + 6 : ihl + 8])
            stream = self._by_ident.get(ident)
            if stream is None or socket.inet_ntoa(packet[12:16]) != stream.target or seq not in stream.sent:
                continue
            stream.replies.setdefault(seq, now - stream.sent[seq])


def stop_all(pingers: list[PacedPings]) -> tuple[list[Stream], float]:
    """Stop every sender, give the last replies LINGER seconds, then collect every stream; (streams, the longest
    pause of any sender in seconds)."""
    for pinger in pingers:
        pinger.stop_sending()
    time.sleep(LINGER)
    streams = [stream for pinger in pingers for stream in pinger.finish()]
    return streams, max((p.max_send_gap for p in pingers), default=0.0)


def summary(streams: list[Stream]) -> dict[str, float]:
    """Totals over all streams: requests, replies, lost, the worst gap (s) and the slowest reply (s)."""
    sent = sum(len(s.sent) for s in streams)
    received = sum(len(set(s.replies) & set(s.sent)) for s in streams)
    return {
        "streams": len(streams),
        "sent": sent,
        "received": received,
        "lost": sent - received,
        "worst_gap_s": round(max((s.worst_gap() for s in streams), default=0.0), 3),
        "slowest_reply_s": round(max((max(s.replies.values(), default=0.0) for s in streams), default=0.0), 4),
    }
