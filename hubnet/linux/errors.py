"""Errors raised by the Linux toolkit. Callers catch these, never pyroute2's own."""

from __future__ import annotations


class LinuxError(Exception):
    """A kernel operation failed; the message names the object and the operation."""

    def __init__(self, message: str, *, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


class NotFound(LinuxError):
    """The link, address, route or namespace does not exist."""


class AlreadyExists(LinuxError):
    """The object already exists (EEXIST)."""
