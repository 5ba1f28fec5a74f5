"""The one plugin ↔ agent format: the raw CNI invocation in, the exit status and the exact output back.

Both plugins send it — the compiled one (`fastshim.c`, which parses no JSON and validates nothing) and the Python
shim — so the agent validates every request with the skel and answers bytes the plugin prints as they are.
Request: `HNRAW1\\n`, each `CNI_*` variable as `NAME=VALUE\\0`, an empty entry (`\\0`), then stdin to EOF (the plugin
half-closes). Answer: `<exit status>\\n` followed by the bytes to print; then the agent closes the connection.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # keep `collections` out of the plugin's start-up
    from collections.abc import Mapping

MAGIC = b"HNRAW1\n"
MAX_ENTRIES = 64


def encode_request(env: Mapping[str, str], stdin: bytes) -> bytes:
    """What the plugin sends: only the `CNI_*` variables of `env`, then stdin."""
    entries = b"".join(f"{k}={v}".encode("utf-8", "surrogateescape") + b"\0" for k, v in env.items() if k[:4] == "CNI_")
    return MAGIC + entries + b"\0" + stdin


def decode_request(data: bytes) -> tuple[dict[str, str], bytes]:
    """(environment, stdin) of a request; ValueError when it is malformed."""
    if not data.startswith(MAGIC):
        raise ValueError("not a hubnet plugin request")
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


def encode_answer(status: int, output: bytes) -> bytes:
    return f"{status}\n".encode() + output


def decode_answer(data: bytes) -> tuple[int, bytes]:
    """(exit status, output) of an answer; ValueError when it is incomplete or malformed (as `fastshim.c` checks)."""
    head, sep, output = data.partition(b"\n")
    if not sep or not head.isdigit() or int(head) > 255:
        raise ValueError("malformed answer from the hubnet agent")
    return int(head), output
