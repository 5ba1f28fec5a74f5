"""The node's own secret: generated once (32 random bytes, hex), kept 0600 in the state dir, sent at registration."""

from __future__ import annotations

import os
import secrets


def load_or_create(path: str) -> str:
    """The secret stored at `path`, created atomically (O_EXCL, mode 0600) the first time."""
    try:
        with open(path) as f:
            value = f.read().strip()
        if len(value) >= 64:
            return value
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    value = secrets.token_hex(32)
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    os.replace(tmp, path)
    return value
