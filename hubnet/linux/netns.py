"""Network namespaces: named ones for pods (`hnpod-…`), and netlink handles bound to a namespace *path*.

The agent never `setns`es itself. To get a netlink socket inside a pod's namespace, a throwaway thread enters the
namespace, opens the socket and exits (the socket stays bound to the namespace it was created in). That costs
~0.5 ms, against ~5 ms for pyroute2's own `IPRoute(netns=…)`, which forks a child process per socket.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyroute2 import IPRoute
from pyroute2 import netns as _pyroute2_netns

from hubnet.linux.errors import LinuxError, NotFound

NETNS_RUN_DIR = "/var/run/netns"
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def path_of(netns: str) -> str:
    """A namespace given by name (under /var/run/netns) or by path, as a path."""
    return netns if "/" in netns else os.path.join(NETNS_RUN_DIR, netns)


def exists(netns: str) -> bool:
    return os.path.exists(path_of(netns))


def _socket_in(path: str) -> socket.socket:
    """A NETLINK_ROUTE socket created inside the namespace at `path` (by a thread that exits afterwards)."""
    out: dict[str, Any] = {}

    def enter_and_open() -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            out["error"] = exc
            return
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                code = ctypes.get_errno()
                out["error"] = OSError(code, os.strerror(code), path)
                return
            out["sock"] = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 0)
        finally:
            os.close(fd)

    worker = threading.Thread(target=enter_and_open, name="hubnet-netns-open")
    worker.start()
    worker.join()
    if "error" in out:
        exc = out["error"]
        code = exc.errno if isinstance(exc, OSError) else None
        kind = NotFound if code in (errno.ENOENT, errno.EINVAL, errno.ENOTDIR) else LinuxError
        raise kind(f"failed to open netns {path!r}: {exc}", errno=code)
    sock: socket.socket = out["sock"]
    return sock


def open_in(netns: str | None) -> Any:
    """An IPRoute handle inside `netns` (name or path), or in our own namespace when None. Caller closes it."""
    if not netns:
        return IPRoute()
    sock = _socket_in(path_of(netns))
    return IPRoute(fileno=sock.detach())


@contextmanager
def handle(netns: str | None = None) -> Iterator[Any]:
    h = open_in(netns)
    try:
        yield h
    finally:
        h.close()


def open_fd(netns: str) -> int:
    """An fd of the namespace (for moving a link into it); raises NotFound naming the namespace."""
    try:
        return os.open(path_of(netns), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise NotFound(f"failed to open netns {netns!r}: {exc.strerror}", errno=exc.errno) from None


def create(name: str) -> str:
    """Create the named namespace (idempotent) with `lo` up; returns its path."""
    path = path_of(name)
    if not os.path.exists(path):
        try:
            _pyroute2_netns.create(name)
        except OSError as exc:
            raise LinuxError(f"failed to create netns {name!r}: {exc}", errno=exc.errno) from None
    with handle(path) as h:
        h.link("set", index=1, state="up")
    return path


def remove(name: str) -> None:
    """Delete the named namespace; a missing one is success."""
    if not os.path.exists(path_of(name)):
        return
    try:
        _pyroute2_netns.remove(name)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise LinuxError(f"failed to remove netns {name!r}: {exc}", errno=exc.errno) from None


def list_named(prefix: str = "") -> list[str]:
    try:
        return sorted(n for n in os.listdir(NETNS_RUN_DIR) if n.startswith(prefix))
    except FileNotFoundError:
        return []
