"""The controller's HTTP protocol: uvicorn's, with a deadline for reading each request.

uvicorn closes an idle keep-alive connection (`timeout_keep_alive`), but nothing bounds a connection that opens and
never sends a byte, or sends its request one byte at a time: each holds a socket and its buffers for as long as
the client likes, and a few thousand of them exhaust the process's file descriptors (slowloris). Here every request
must arrive complete — headers and body — within `HUBNET_REQUEST_TIMEOUT_SECONDS` of its first byte (of the
connection, for the first request); a connection that misses it is closed, with a 408 when no request had started.
The deadline is for the whole request, not for each read: a byte every second does not keep it alive. While the
app works on a request (a long-poll of /v1/events may wait 300 s) no deadline runs; between requests uvicorn's own
keep-alive timeout does.
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("hubnet.server")
REQUEST_TIMEOUT = b"request not received in time\n"
RESPONSE_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    b"content-length: " + str(len(REQUEST_TIMEOUT)).encode() + b"\r\n\r\n" + REQUEST_TIMEOUT
)


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a read deadline per request (`read_timeout` seconds, set by
    `with_read_timeout`)."""

    read_timeout = 20.0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._reading():
            self._arm()
        else:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _reading(self) -> bool:
        """A request is on its way in: none has started yet, the last one is answered (so these bytes begin the
        next), or its body is still arriving."""
        cycle = self.cycle
        return cycle is None or cycle.response_complete or cycle.more_body

    def _arm(self) -> None:
        if self._deadline is None:  # one deadline per request, from its first byte: later bytes do not extend it
            self._deadline = self.loop.call_later(self.read_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        started = self.cycle is not None and not self.cycle.response_complete
        log.debug("closing a connection from %s: no complete request within %ss", self.client, self.read_timeout)
        if not started:  # the app has not seen this request: the answer is ours to give
            self.transport.write(RESPONSE_408)
        self.transport.close()


def with_read_timeout(seconds: float) -> type[DeadlineProtocol]:
    """The protocol class to hand to uvicorn (`http=`), with its deadline."""
    return type("DeadlineProtocol", (DeadlineProtocol,), {"read_timeout": seconds})
