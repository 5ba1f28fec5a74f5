"""The node's own secret: generated once (32 random bytes, hex), kept 0600 in the state dir, sent at registration.

The controller keeps only its hash, so a lost secret cannot be recovered: a new one is refused (409 name-taken)
until the record is deleted. Hence the file is made durable (fsync of the file and its directory) before it is
used, and a file that exists but is malformed (truncated by a crash, edited) is refused loudly, never replaced.
"""

from __future__ import annotations

import contextlib
import os
import secrets

ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~+/=-")
MIN_LEN, MAX_LEN = 43, 512  # the controller's rule for node secrets (docs/api.md)


class SecretError(Exception):
    """The secret file exists but does not hold a usable secret."""


def valid(value: str) -> bool:
    return MIN_LEN <= len(value) <= MAX_LEN and set(value) <= ALLOWED


def load_or_create(path: str) -> str:
    """The secret stored at `path`; created durably (0600, fsynced, never over an existing file) the first time."""
    try:
        return _load(path)
    except FileNotFoundError:
        pass
    create_durably(path, secrets.token_hex(32))
    return _load(path)


def create_durably(path: str, content: str) -> None:
    """Write `content` to a new 0600 file at `path`, durably (file and directory fsynced) and atomically, never over
    an existing file: when `path` exists already (a concurrent creator won), this does nothing. Used for every
    secret an agent keeps (the node's, the router agent's credentials)."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # left by a crash of an earlier process with our pid
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):  # a concurrent creator's secret wins, ours is dropped
            os.link(tmp, path)  # atomic, and never replaces an existing file (os.replace would)
        _fsync_dir(directory)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _load(path: str) -> str:
    with open(path) as f:
        value = f.read().strip()
    if not valid(value):
        raise SecretError(
            f"{path} exists but holds no valid node secret ({len(value)} characters; expected {MIN_LEN}-{MAX_LEN} of "
            "A-Za-z0-9._~+/=-). Refusing to replace it: the controller would reject a new secret (409 name-taken). "
            "Restore the file, or delete the node's record (DELETE /v1/nodes/NAME as admin) and this file."
        )
    return value


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
