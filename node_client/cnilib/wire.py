"""The compiled plugin's wire format (`fastshim.c`): raw CNI environment + stdin in, exit status + stdout out.

The C program validates nothing and parses no JSON; the agent runs the same skel code on what it forwards, so
codes and error JSON are exactly the Python shim's. Request: `HNRAW1\\n`, each `CNI_*` variable as `NAME=VALUE\\0`,
an empty entry (`\\0`), then stdin to EOF. Answer: `<exit status>\\n` followed by the bytes to print.
"""

from __future__ import annotations

MAGIC = b"HNRAW1\n"
MAX_ENTRIES = 64


def is_raw(data: bytes) -> bool:
    return data.startswith(MAGIC)


def decode(data: bytes) -> tuple[dict[str, str], bytes]:
    """(environment, stdin) of a raw request; ValueError when it is malformed."""
    if not data.startswith(MAGIC):
        raise ValueError("not a raw request")
    env: dict[str, str] = {}
    pos = len(MAGIC)
    for _ in range(MAX_ENTRIES + 1):
        end = data.find(b"\0", pos)
        if end < 0:
            raise ValueError("unterminated environment")
        entry = data[pos:end]
        pos = end + 1
        if not entry:
            return env, data[pos:]
        name, sep, value = entry.decode("utf-8", "surrogateescape").partition("=")
        if not sep or not name.startswith("CNI_"):
            raise ValueError(f"bad environment entry {name[:32]!r}")
        env[name] = value
    raise ValueError("too many environment entries")


def encode(env: dict[str, str], stdin: bytes) -> bytes:
    """What `fastshim.c` sends (for tests and tools)."""
    entries = b"".join(f"{k}={v}".encode("utf-8", "surrogateescape") + b"\0" for k, v in env.items() if k[:4] == "CNI_")
    return MAGIC + entries + b"\0" + stdin


def answer(status: int, output: bytes) -> bytes:
    return f"{status}\n".encode() + output
