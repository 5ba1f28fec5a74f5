"""Netlink handles bound to a network namespace, and the one place netlink errors become `hubnet.linux.errors`."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyroute2 import IPRoute, NetlinkError

from hubnet.linux.errors import AlreadyExists, LinuxError, NotFound


def open_ipr(netns: str | None = None) -> Any:
    """An IPRoute socket in `netns` (a name under /var/run/netns or a path), or in our own namespace.

    The handle is bound to the namespace; the calling process never `setns`es (safe in servers and agents).
    A missing namespace is an error (pyroute2 would silently create it: a typo must not make a new namespace).
    """
    if netns and not os.path.exists(netns if netns.startswith("/") else f"/var/run/netns/{netns}"):
        raise NotFound(f"failed to open netns {netns!r}: no such namespace")
    try:
        return IPRoute(netns=netns, flags=0) if netns else IPRoute()
    except (OSError, NetlinkError) as exc:
        raise NotFound(f"failed to open netns {netns!r}: {exc}") from exc


@contextmanager
def ipr(netns: str | None = None) -> Iterator[Any]:
    """`with ipr(ns) as h:` — a short-lived handle, closed on exit."""
    handle = open_ipr(netns)
    try:
        yield handle
    finally:
        handle.close()


def translate(exc: NetlinkError | OSError, what: str) -> LinuxError:
    """Map a netlink error to our hierarchy; `what` names the operation and object ('add route 10.1.0.0/24')."""
    code = getattr(exc, "code", None) or getattr(exc, "errno", None)
    message = f"failed to {what}: {exc}"
    if code in (errno.ENOENT, errno.ESRCH, errno.ENODEV):
        return NotFound(message, errno=code)
    if code == errno.EEXIST:
        return AlreadyExists(message, errno=code)
    return LinuxError(message, errno=code)
