"""gobgpd's output (JSON lines on stdout) into our log, and what it says about sessions kept per peer.

gobgpd runs at its `info` level because the reason a session went down is logged there ("Peer Down"); only its
warnings and errors reach our log as such, sessions going up and down at info, the rest at debug.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from hubnet.server.bgp.sessions import notification_text

log = logging.getLogger("hubnet.bgp")

_SEVERITY = {"warning": logging.WARNING, "error": logging.ERROR, "fatal": logging.ERROR, "panic": logging.ERROR}


class GobgpLog:
    """Takes gobgpd's lines (from the child's reader thread); answers `reason(peer)` and `last_words`."""

    def __init__(self) -> None:
        self.last_words = ""  # the last warning or non-JSON line: why gobgpd exited, when it did
        self._reasons: dict[str, str] = {}  # peer address → why its session is down, as last logged
        self._lock = threading.Lock()

    def reason(self, peer: str) -> str | None:
        with self._lock:
            return self._reasons.get(peer)

    def forget(self, peer: str) -> None:
        with self._lock:
            self._reasons.pop(peer, None)

    def line(self, line: str) -> None:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):  # a Go panic, a flag error: plain text
            self.last_words = line
            log.warning("gobgpd: %s", line)
            return
        level, message, key = record.get("level", "info"), record.get("msg", ""), record.get("Key")
        if level in _SEVERITY:
            self.last_words = message
        severity = _SEVERITY.get(level, logging.DEBUG)
        if message in ("Peer Up", "Peer Down"):
            severity = max(severity, logging.INFO)
        log.log(severity, "gobgpd: %s %s", message, _fields(record))
        if isinstance(key, str):
            reason = peer_reason(message, record)
            with self._lock:
                if reason is not None:
                    self._reasons[key] = reason
                elif message == "Peer Up":
                    self._reasons.pop(key, None)


def peer_reason(message: str, record: dict[str, Any]) -> str | None:
    """What a gobgpd log record says about why a session is down, or None when it says nothing about that."""
    if message == "received notification":
        said = record.get("Communicated-Reason")
        text = f"the peer sent a NOTIFICATION: {notification_text(record.get('Code', 0), record.get('Subcode', 0))}"
        return f"{text} ({said})" if said else text
    if message == "sent notification":
        data = record.get("Data")
        data = data if isinstance(data, dict) else {}
        text = f"we sent a NOTIFICATION: {notification_text(data.get('TypeCode', 0), data.get('SubTypeCode', 0))}"
        detail = data.get("Message")
        return f"{text} ({detail})" if detail else text
    if message == "hold timer expired":
        return "hold timer expired: no KEEPALIVE from the peer in time"
    if message == "Peer Down":
        return f"session went down: {record.get('Reason', 'unknown reason')}"
    return None


def _fields(record: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in record.items() if k not in ("level", "msg", "time"))
