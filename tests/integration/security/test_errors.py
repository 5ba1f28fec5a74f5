"""An unexpected exception answers 500 problem+json with a generic detail and an error id; the traceback (and the
exception's own text) appear only in the log, under that id. In-process app on a real SQLite database."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hubnet.server.app import create_app
from hubnet.server.db.migrate import upgrade
from hubnet.server.services import node_reads
from hubnet.server.settings import Settings

MARKER = "kaboom-internal-detail-7f3a"


def test_unexpected_exception_is_a_generic_500_with_an_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(state_dir=tmp_path, admin_tokens=("adm",), route_backend="none")
    upgrade(settings.db_url)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(MARKER)

    monkeypatch.setattr(node_reads, "get", broken)
    caplog.set_level(logging.ERROR, logger="hubnet.server")
    app = create_app(settings, background=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/v1/nodes/any", headers={"Authorization": "Bearer adm"})
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["type"] == "urn:hubnet:problem:internal" and len(body["id"]) == 32
    assert body["id"] in body["detail"]
    for leak in (MARKER, "Traceback", "RuntimeError", 'File "', ".py"):
        assert leak not in answer.text
    logged = [r for r in caplog.records if body["id"] in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert MARKER in caplog.text and "Traceback" in caplog.text
