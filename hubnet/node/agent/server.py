"""The agent's unix socket: one request from the CNI plugin, one answer, connection closed.

One format (`cnilib.wire`), whichever plugin sends it: the raw CNI environment and stdin, validated here with the
skel (`skel.run`, the code the plugin runs when it answers on its own) and answered with the exit status and the
exact output. The socket is 0600 (root): whoever may talk to it may change the node's network. Reads and writes
time out (a client that never half-closes is dropped), and one flock on `agent.lock` keeps a second agent off the
same state dir.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socketserver
import threading
from collections.abc import Callable
from typing import Any

from hubnet.node.cnilib import fastjson, skel, wire

log = logging.getLogger(__name__)
Dispatch = Callable[[skel.Request], Any]  # raises only CniError (Commands.dispatch translates every failure)


class AlreadyRunning(Exception):
    """Another agent holds the state directory's lock."""


def lock_state_dir(state_dir: str, lock: str = "agent.lock") -> int:
    """Take `state_dir/<lock>` (flock, held until the process exits) so that a second agent on the same state dir
    (the node agent: `agent.lock`; a router agent: `router-<name>.lock`) fails at once instead of undoing the first
    one's work. Returns the fd to keep open."""
    path = os.path.join(state_dir, lock)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        which = "" if lock == "agent.lock" else f" ({lock})"
        raise AlreadyRunning(
            f"another hubnet agent (pid {holder}) is running with state dir {state_dir!r}{which}"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


class _Handler(socketserver.StreamRequestHandler):
    server: AgentSocketServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.request_timeout)  # a client that never half-closes: no hang

    def handle(self) -> None:
        try:
            raw = self.rfile.read()
        except TimeoutError:
            log.warning("dropped a plugin connection: no complete request in %.1fs", self.server.request_timeout)
            return
        if not raw:
            return  # a liveness probe: connected and closed
        out = self.server.answer(raw)
        try:
            self.wfile.write(out)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            log.warning("plugin went away before its answer %s", out[:200])


class AgentSocketServer(socketserver.ThreadingUnixStreamServer):
    # On SIGTERM, `server_close` waits for the calls in flight: an ADD is finished, not cut in half.
    daemon_threads = False
    block_on_close = True
    request_queue_size = 512  # a burst of parallel pod starts must queue, not bounce with EAGAIN

    def __init__(self, path: str, dispatch: Dispatch, *, request_timeout: float = 10.0) -> None:
        self.dispatch = dispatch
        self.request_timeout = request_timeout  # per socket read/write; bounds how long a stop can wait
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        if os.path.exists(path):
            os.unlink(path)  # a socket file left by a killed agent
        old = os.umask(0o177)
        try:
            super().__init__(path, _Handler)
        finally:
            os.umask(old)
        self.path = path
        self._thread: threading.Thread | None = None

    def answer(self, raw: bytes) -> bytes:
        """One plugin invocation: validate it with the skel, do the work, answer status + output."""
        try:
            env, stdin = wire.decode_request(raw)
        except ValueError as exc:
            error = skel.CniError(skel.INTERNAL, f"bad request from plugin: {exc}")
            return wire.encode_answer(1, fastjson.dumps(error.to_json()).encode())
        return wire.encode_answer(*skel.run(env, lambda: stdin, self.dispatch))

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="hubnet-cni-socket", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
