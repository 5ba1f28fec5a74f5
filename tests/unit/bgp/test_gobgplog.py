"""gobgpd's JSON log lines: forwarded at matching levels, per-peer reasons kept until the session is up again."""

from __future__ import annotations

import json
import logging

import pytest

from hubnet.server.bgp.gobgplog import GobgpLog


def line(msg: str, level: str = "info", **fields: object) -> str:
    return json.dumps({"level": level, "msg": msg, "time": "2026-01-01T00:00:00Z", **fields})


def test_reasons_per_peer_until_it_comes_up(caplog: pytest.LogCaptureFixture) -> None:
    log = GobgpLog()
    with caplog.at_level(logging.DEBUG, logger="hubnet.bgp"):
        log.line(line("Add a peer configuration", Key="192.0.2.1", Topic="Peer"))
        log.line(line("received notification", "warning", Key="192.0.2.1", Code=2, Subcode=2, Data=None))
        log.line(line("Peer Down", Key="192.0.2.3", Reason="hold-timer-expired", State="BGP_FSM_ESTABLISHED"))
    assert "bad peer AS" in (log.reason("192.0.2.1") or "")
    assert log.reason("192.0.2.3") == "session went down: hold-timer-expired"
    levels = {r.getMessage().split()[1]: r.levelno for r in caplog.records}
    assert levels == {"Add": logging.DEBUG, "received": logging.WARNING, "Peer": logging.INFO}
    log.line(line("Peer Up", Key="192.0.2.3"))
    assert log.reason("192.0.2.3") is None
    log.forget("192.0.2.1")
    assert log.reason("192.0.2.1") is None


def test_plain_text_is_gobgpds_last_words(caplog: pytest.LogCaptureFixture) -> None:
    log = GobgpLog()
    with caplog.at_level(logging.WARNING, logger="hubnet.bgp"):
        log.line("panic: runtime error: invalid memory address")
    assert log.last_words == "panic: runtime error: invalid memory address"
    assert caplog.records[0].getMessage() == "gobgpd: panic: runtime error: invalid memory address"
    log.line(line("failed to listen", "error", Key="grpc"))
    assert log.last_words == "failed to listen"
