"""`hubnet-cni`, the Python CNI plugin: what `fastshim.c` does, for a package built without a C compiler, and the
compiled plugin's fallback.

It forwards the invocation to the warm agent in the one plugin ↔ agent format (`cnilib.wire`: raw CNI_* variables
and stdin in, exit status and output back) and prints the agent's answer as it is; the agent validates. Only what
cannot be forwarded is answered here, with the same skel (`cnilib.skel.run`): VERSION, a missing CNI_COMMAND, an
unreadable stdin, a config that is not a JSON object, and everything while the agent is not reachable:
  ADD, CHECK  -> error 11 "try again later" (the runtime retries; nothing was changed)
  STATUS      -> error 50 (not available)
  DEL         -> the shim releases the attachment's IPAM reservations itself from the file stores (`ipamDirs`, one
                 per family, or `ipamDir`; same flock as the agent) and succeeds. The host veth it cannot remove without
                 netlink disappears with the pod netns, or is swept by the agent at start (a bridge port without a
                 reservation is a leak).
  GC          -> the shim frees every reservation not in the valid list (the runtime runs no ADD/DEL during GC).

Stdlib only, and only the cheap parts of it: the forwarding path imports `_socket`, `_json` (through `fastjson`)
and `wire` — not even `os` (~1 ms under `-IS`); the skel is imported only when the shim answers itself.
`import pyroute2` alone costs ~230 ms.
"""

from __future__ import annotations

import _socket
import posix
import sys

from hubnet.node.cnilib import fastjson, wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, BinaryIO

    from hubnet.node.cnilib.skel import Request

DEFAULT_SOCKET = "/run/hubnet/agent.sock"
TIMEOUT_SECONDS = 120.0


class AgentDown(Exception):
    """Connecting to the agent's socket failed: it is not running (or not yet listening)."""


def invoke(env: Mapping[str, str], stdin: BinaryIO | None) -> tuple[int, bytes]:
    """One invocation -> (exit status, bytes to print). Never raises for CNI errors.

    Nothing is retried once the request is sent, so an ADD is never sent twice.
    """
    command = env.get("CNI_COMMAND")
    if not command or command == "VERSION":
        return _answer_here(env, _unread, "")
    try:
        if stdin is None:
            raise OSError("stdin is closed")
        data = stdin.read()
    except OSError as exc:
        return _answer_here(env, _raiser(exc), "")
    path = socket_path(data)
    if path is None:  # not a JSON object: the skel says so
        return _answer_here(env, lambda: data, "")
    try:
        return wire.decode_answer(call_agent(path, wire.encode_request(env, data)))
    except AgentDown as exc:
        return _answer_here(env, lambda: data, str(exc))
    except (OSError, ValueError) as exc:  # the agent went away mid-request, or answered garbage
        return _answer_here(env, lambda: data, "", failure=f"hubnet plugin: {exc}")


def socket_path(stdin: bytes) -> str | None:
    """The network config's `agentSocket` (default DEFAULT_SOCKET); None when stdin is not a JSON object."""
    try:
        config = fastjson.loads(stdin)
    except (ValueError, RecursionError):
        return None
    return str(config.get("agentSocket") or DEFAULT_SOCKET) if isinstance(config, dict) else None


def call_agent(path: str, request: bytes) -> bytes:
    """Send one request and read the answer until the agent closes the connection."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(TIMEOUT_SECONDS)
        _connect(sock, path)
        sock.sendall(request)
        sock.shutdown(_socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    finally:
        sock.close()
    if not chunks:
        raise ValueError("hubnet agent closed the connection without an answer")
    return b"".join(chunks)


def _connect(sock: Any, path: str) -> None:
    """Connect; a full backlog (EAGAIN) is retried for a while, anything else means the agent is down."""
    for attempt in range(200):
        try:
            sock.connect(path)
            return
        except BlockingIOError:
            import time  # only during a burst that fills the agent's backlog

            time.sleep(0.005 * min(attempt + 1, 20))
        except OSError as exc:
            raise AgentDown(f"hubnet agent not reachable on {path!r}: {exc.strerror or exc}") from None
    raise AgentDown(f"hubnet agent on {path!r} is not accepting connections")


def _answer_here(
    env: Mapping[str, str], read: Callable[[], bytes], reason: str, failure: str = ""
) -> tuple[int, bytes]:
    """Validate with the skel, then answer without the agent: `failure` (I/O with the agent, code 5) or the
    agent-down fallback."""
    from hubnet.node.cnilib import skel

    def serve(request: Request) -> Any:
        if failure:
            raise skel.CniError(skel.IO_FAILURE, failure)
        return fallback(request, reason)

    return skel.run(env, read, serve)


def fallback(request: Request, reason: str) -> Any:
    """What the plugin does on its own while the agent is down (see the module docstring)."""
    from hubnet.node.cnilib import skel

    if request.command in ("ADD", "CHECK"):
        raise skel.CniError(skel.TRY_AGAIN_LATER, "hubnet agent is not running; try again later", reason)
    if request.command == "STATUS":
        raise skel.CniError(skel.NOT_AVAILABLE, "hubnet agent is not running", reason)
    dirs = request.config.get("ipamDirs") or [request.config.get("ipamDir")]
    if not isinstance(dirs, list) or not all(d and isinstance(d, str) for d in dirs):
        raise skel.CniError(skel.INVALID_CONFIG, "network config has no ipamDir; cannot release without the agent")
    from hubnet.node.cnilib.ipam import Store  # only on this rare path

    try:
        for ipam_dir in dirs:
            store = Store(ipam_dir)
            if request.command == "DEL":
                store.release(request.container_id, request.ifname)
            else:  # GC
                store.release_except(skel.valid_attachments(request.config))
    except OSError as exc:
        raise skel.CniError(skel.IO_FAILURE, f"hubnet plugin: {exc}") from None
    return None


def _unread() -> bytes:
    raise AssertionError("stdin is not read for VERSION")  # skel.run returns before reading


def _raiser(exc: OSError) -> Callable[[], bytes]:
    def read() -> bytes:
        raise exc

    return read


def cni_environ() -> dict[str, str]:
    """The CNI_* variables, decoded as `os.environ` decodes them (nothing else is read or forwarded)."""
    enc = sys.getfilesystemencoding()
    items = posix.environ.items()
    return {k.decode(enc, "surrogateescape"): v.decode(enc, "surrogateescape") for k, v in items if k[:4] == b"CNI_"}


def main() -> None:
    try:
        status, output = invoke(cni_environ(), sys.stdin.buffer if sys.stdin is not None else None)
    except Exception as exc:  # a bug: the runtime still gets error JSON, never a traceback
        from hubnet.node.cnilib import skel

        status, output = (
            1,
            fastjson.dumps(skel.CniError(skel.INTERNAL, f"hubnet plugin failed: {exc!r}").to_json()).encode(),
        )
    if output:
        sys.stdout.buffer.write(output)
        sys.stdout.flush()
    sys.exit(status)


if __name__ == "__main__":
    main()
