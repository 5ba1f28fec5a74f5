"""Network namespaces: the one way into one, and the named ones (`hnpod-…`, the lab's) we create and remove.

A namespace is given by name (under /var/run/netns) or by path (`/proc/PID/ns/net`, a bind mount); `path_of`
turns either into a path. Nothing here creates a namespace it is only asked to open: a missing one is `NotFound`
naming it (pyroute2's own helpers create by default, so a typo would silently make a new, empty namespace).

The process never `setns`es itself. `run_in` runs a function on a throwaway thread that enters the namespace
(setns(CLONE_NEWNET) is per thread); a socket created there stays bound to that namespace after the thread ends.
That costs ~0.5 ms, against ~5 ms for pyroute2's `IPRoute(netns=…)`, which forks a child process per socket.
Every netlink socket in another namespace comes from `netlink_socket`: the raw one the router's route table uses
and the IPRoute handles (`handle`) alike.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from pyroute2 import IPRoute
from pyroute2 import netns as _pyroute2_netns

from hubnet.linux.errors import LinuxError, NotFound

T = TypeVar("T")

NETNS_RUN_DIR = "/var/run/netns"
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def path_of(netns: str) -> str:
    """A namespace given by name (under /var/run/netns) or by path, as a path."""
    return netns if "/" in netns else os.path.join(NETNS_RUN_DIR, netns)


def exists(netns: str) -> bool:
    return os.path.exists(path_of(netns))


def open_fd(netns: str) -> int:
    """An fd of the namespace (to enter it, or to move a link into it); raises NotFound naming the namespace."""
    try:
        return os.open(path_of(netns), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise NotFound(f"failed to open netns {netns!r}: {exc.strerror}", errno=exc.errno) from None


def run_in(netns: str, fn: Callable[[], T]) -> T:
    """Run `fn` on a short-lived thread inside namespace `netns`; its result, or its exception unchanged.

    The calling process and its other threads stay where they are. A file that is not a namespace is NotFound,
    any other failure to enter (EPERM) a LinuxError; both name the namespace.
    """
    fd = open_fd(netns)
    try:
        return _on_thread(lambda: _libc.setns(fd, CLONE_NEWNET), fn, netns, "open")
    finally:
        os.close(fd)


def _on_thread(enter: Callable[[], int], fn: Callable[[], T], netns: str, verb: str) -> T:
    """Run `enter` (a libc call: 0, or -1 with errno set), then `fn`, on a throwaway thread; `fn`'s result or
    exception. A failed `enter` is NotFound (EINVAL: not a namespace) or LinuxError, quoting `verb` and `netns`."""
    box: dict[str, Any] = {}

    def enter_and_run() -> None:
        if enter() != 0:
            box["enter"] = ctypes.get_errno()
            return
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=enter_and_run, name="hubnet-netns", daemon=True)
    worker.start()
    worker.join()
    if "enter" in box:
        code = box["enter"]
        if code == errno.EINVAL and verb == "open":
            raise NotFound(f"failed to open netns {netns!r}: not a network namespace", errno=code)
        raise LinuxError(f"failed to {verb} netns {netns!r}: {os.strerror(code)}", errno=code)
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def netlink_socket(netns: str | None) -> socket.socket:
    """A NETLINK_ROUTE socket in `netns` (name or path), or in our own namespace when None. Caller closes it."""

    def create() -> socket.socket:  # SOCK_DGRAM: the kernel treats it as SOCK_RAW; pyroute2 accepts only this one
        return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE)

    try:
        return run_in(netns, create) if netns else create()
    except OSError as exc:
        raise LinuxError(f"failed to open a netlink socket in netns {netns!r}: {exc}", errno=exc.errno) from None


def open_handle(netns: str | None) -> Any:
    """An IPRoute handle inside `netns` (name or path), or in our own namespace when None. Caller closes it."""
    if not netns:
        return IPRoute()
    return IPRoute(fileno=netlink_socket(netns).detach())


@contextmanager
def handle(netns: str | None = None) -> Iterator[Any]:
    """`with handle(ns) as h:` — a short-lived IPRoute handle, closed on exit."""
    h = open_handle(netns)
    try:
        yield h
    finally:
        h.close()


def create(name: str) -> str:
    """Create the named namespace (idempotent) with `lo` up; returns its path.

    A throwaway thread unshares its own network namespace and pyroute2 bind-mounts it (`/proc/thread-self/ns/net`)
    at the name, as `ip netns add` does, ~1 ms; pyroute2's `create` forks a child process for it, ~15 ms.
    """
    path = path_of(name)
    if not os.path.exists(path):
        try:
            _on_thread(
                lambda: _libc.unshare(CLONE_NEWNET), lambda: _pyroute2_netns.attach(name, "thread-self"), name, "create"
            )
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
