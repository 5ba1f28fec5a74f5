"""`hubnet-cni`, the CNI plugin the runtime executes per pod: validate like libcni, hand the work to the warm agent.

Stdlib only, and only the cheap parts of it (`_socket`, `_json` through `fastjson`): the interpreter starts in
~6 ms, while `import pyroute2` alone costs ~230 ms. The agent does the netlink work on its unix socket
(`agentSocket` in the network config); one JSON request, one JSON answer, then the connection closes.

When the agent is not reachable:
  ADD, CHECK  -> error 11 "try again later" (the runtime retries; nothing was changed)
  STATUS      -> error 50 (not available)
  DEL         -> the shim releases the attachment's IPAM reservation itself from the file store (`ipamDir`, same
                 flock as the agent) and succeeds. The host veth it cannot remove without netlink disappears with
                 the pod netns, or is swept by the agent at start (a bridge port without a reservation is a leak).
  GC          -> the shim frees every reservation not in the valid list (the runtime runs no ADD/DEL during GC).
"""

from __future__ import annotations

import _socket
import os
import sys
import time

from node_client.cnilib import fastjson, skel

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

DEFAULT_SOCKET = "/run/hubnet/agent.sock"
TIMEOUT_SECONDS = 120.0


class AgentDown(Exception):
    """Connecting to the agent's socket failed: it is not running (or not yet listening)."""


def call_agent(path: str, request: dict[str, Any]) -> dict[str, Any]:
    """Send one request and read the answer until the agent closes the connection."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(TIMEOUT_SECONDS)
        _connect(sock, path)
        sock.sendall(fastjson.dumps(request).encode())
        sock.shutdown(_socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    finally:
        sock.close()
    answer = fastjson.loads(b"".join(chunks)) if chunks else None
    if not isinstance(answer, dict):
        raise skel.CniError(skel.IO_FAILURE, "hubnet agent closed the connection without an answer")
    return answer


def _connect(sock: Any, path: str) -> None:
    """Connect; a full backlog (EAGAIN) is retried for a while, anything else means the agent is down."""
    for attempt in range(200):
        try:
            sock.connect(path)
            return
        except BlockingIOError:
            time.sleep(0.005 * min(attempt + 1, 20))
        except OSError as exc:
            raise AgentDown(f"hubnet agent not reachable on {path!r}: {exc.strerror or exc}") from None
    raise AgentDown(f"hubnet agent on {path!r} is not accepting connections")


def fallback(request: skel.Request, reason: str) -> Any:
    """What the plugin does on its own while the agent is down (see the module docstring)."""
    if request.command in ("ADD", "CHECK"):
        raise skel.CniError(skel.TRY_AGAIN_LATER, "hubnet agent is not running; try again later", reason)
    if request.command == "STATUS":
        raise skel.CniError(skel.NOT_AVAILABLE, "hubnet agent is not running", reason)
    ipam_dir = request.config.get("ipamDir")
    if not ipam_dir:
        raise skel.CniError(skel.INVALID_CONFIG, "network config has no ipamDir; cannot release without the agent")
    from node_client.cnilib.ipam import Store  # only on this rare path

    store = Store(str(ipam_dir))
    if request.command == "DEL":
        store.release(request.container_id, request.ifname)
    else:  # GC
        store.release_except(skel.valid_attachments(request.config))
    return None


def run(
    env: dict[str, str] | os._Environ[str], stdin: Any, serve: Callable[[skel.Request], Any] | None = None
) -> tuple[int, Any]:
    """One invocation -> (exit status, JSON to print or None). Never raises for CNI errors.

    `serve` is given inside the agent (the compiled plugin forwards raw invocations): it does the work in-process
    instead of calling the agent's socket, with exactly the same validation before it.
    """
    version = skel.CURRENT_VERSION
    try:
        command = skel.command_from_env(env)
        if command == "VERSION":
            return 0, skel.version_info()
        try:
            if stdin is None:
                raise OSError("stdin is closed")
            data = stdin.read()
        except OSError as exc:
            raise skel.CniError(skel.IO_FAILURE, f"error reading from stdin: {exc}") from None
        request = skel.parse(command, env, data)
        version = request.cni_version
        if serve is not None:
            return 0, serve(request)
        path = str(request.config.get("agentSocket") or DEFAULT_SOCKET)
        try:
            answer = call_agent(path, request.to_wire())
        except AgentDown as exc:
            return 0, fallback(request, str(exc))
        if "error" in answer:
            err = answer["error"]
            raise skel.CniError(
                int(err.get("code", skel.INTERNAL)), str(err.get("msg", "")), str(err.get("details", ""))
            )
        return 0, answer.get("result")
    except skel.CniError as exc:
        return 1, exc.to_json(version)
    except (OSError, ValueError) as exc:
        return 1, skel.CniError(skel.IO_FAILURE, f"hubnet plugin: {exc}").to_json(version)


def main() -> None:
    try:
        status, output = run(os.environ, sys.stdin.buffer if sys.stdin is not None else None)
    except Exception as exc:  # a plugin must answer with error JSON, never a traceback
        status, output = 1, skel.CniError(skel.INTERNAL, f"hubnet plugin failed: {exc!r}").to_json()
    if output is not None:
        sys.stdout.write(fastjson.dumps(output))
        sys.stdout.flush()
    sys.exit(status)


if __name__ == "__main__":
    main()
