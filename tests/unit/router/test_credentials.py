"""The router agent's secret file (hubnet/router/credentials.py): created once, 0600, reused, never replaced."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from hubnet.node.agent.secret import SecretError
from hubnet.router.credentials import load_or_create


def test_created_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "router-r1.json"
    secret = load_or_create(str(path), "r1")
    assert 32 <= len(secret) <= 128
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text()) == {"name": "r1", "secret": secret}
    assert load_or_create(str(path), "r1") == secret
    assert sorted(os.listdir(path.parent)) == ["router-r1.json"]  # no temporary file left


@pytest.mark.parametrize(
    "content",
    ["", "{", '{"name": "r2", "secret": "' + "a" * 64 + '"}', '{"name": "r1", "secret": "short"}',
     '{"name": "r1", "secret": "' + "a" * 63 + ' "}', '["r1"]'],
    ids=["empty", "truncated", "other-router", "short", "bad-character", "not-an-object"],
)  # fmt: skip
def test_an_unusable_file_is_refused_not_replaced(tmp_path: Path, content: str) -> None:
    path = tmp_path / "router-r1.json"
    path.write_text(content)
    with pytest.raises(SecretError, match=r"router-r1\.json"):
        load_or_create(str(path), "r1")
    assert path.read_text() == content
