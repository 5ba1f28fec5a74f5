"""Errors raised by the Linux toolkit, and the one place an errno becomes one. Callers never see pyroute2's own."""

from __future__ import annotations

import errno as _errno
import os


class LinuxError(Exception):
    """A kernel operation failed; the message names the object and the operation."""

    def __init__(self, message: str, *, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


class NotFound(LinuxError):
    """The link, address, route or namespace does not exist."""


class AlreadyExists(LinuxError):
    """The object already exists (EEXIST)."""


def translate(error: int | Exception, what: str) -> LinuxError:
    """Map an errno, or an error carrying one (pyroute2's NetlinkError `.code`, OSError `.errno`), to our hierarchy.

    `what` names the operation and object ('add route 10.1.0.0/24'): the message reads "failed to <what>: <why>".
    """
    if isinstance(error, int):
        code: int | None = error
        why = os.strerror(error)
    else:
        code = getattr(error, "code", None) or getattr(error, "errno", None)
        why = str(error)
    message = f"failed to {what}: {why}"
    if code in (_errno.ENOENT, _errno.ESRCH, _errno.ENODEV):
        return NotFound(message, errno=code)
    if code == _errno.EEXIST:
        return AlreadyExists(message, errno=code)
    return LinuxError(message, errno=code)
