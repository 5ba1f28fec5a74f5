"""Settings validation: what each variable accepts, and that a refusal is located at the variable it is about."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from hubnet.server.settings import Settings

LISTEN: dict[str, tuple[str, tuple[str, int]]] = {
    "ipv4": ("0.0.0.0:6780", ("0.0.0.0", 6780)),
    "name": ("localhost:6780", ("localhost", 6780)),
    "port only": (":443", ("127.0.0.1", 443)),
    "ipv6 in brackets": ("[::1]:6780", ("::1", 6780)),
    "highest port": ("127.0.0.1:65535", ("127.0.0.1", 65535)),
}


@pytest.mark.parametrize(("listen", "expected"), LISTEN.values(), ids=LISTEN.keys())
def test_listen_accepts(listen: str, expected: tuple[str, int], tmp_path: Path) -> None:
    assert Settings(state_dir=tmp_path, listen=listen).listen_host_port == expected


REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "listen without port": ({"listen": "nohost"}, "listen"),
    "listen port 0": ({"listen": "127.0.0.1:0"}, "listen"),
    "listen port too high": ({"listen": "127.0.0.1:65536"}, "listen"),
    "listen port not a number": ({"listen": "127.0.0.1:http"}, "listen"),
    "listen ipv6 without brackets": ({"listen": "::1:6780"}, "listen"),
    "listen brackets around no ipv6": ({"listen": "[nohost]:6780"}, "listen"),
    "backend typo": ({"route_backend": "kernal"}, "route_backend"),
    "kernel proto 4 (static)": ({"route_backend": "kernel", "route_proto": 4}, "route_proto"),
    "proto 3, any backend (nodes use it)": (
        {"route_backend": "fake", "route_proto": 3},
        "route_proto",
    ),
    "database mysql": ({"database_url": "mysql://u:secret@db/hubnet"}, "database_url"),
    "database without scheme": ({"database_url": "hubnet.db"}, "database_url"),
    "log level": ({"log_level": "verbose"}, "log_level"),
}


@pytest.mark.parametrize(("values", "field"), REFUSED.values(), ids=REFUSED.keys())
def test_refused_at_the_variable(values: dict[str, Any], field: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(state_dir=tmp_path, **values)
    assert [e["loc"] for e in caught.value.errors()] == [(field,)]
    assert "secret" not in caught.value.errors()[0]["msg"]  # the message never echoes a database URL's password


ACCEPTED: dict[str, dict[str, Any]] = {
    "kernel proto 5": {"route_backend": "kernel", "route_proto": 5},
    "postgres shorthand": {"database_url": "postgres://hubnet@db/hubnet"},
    "postgresql with psycopg": {"database_url": "postgresql+psycopg://hubnet@db/hubnet"},
    "sqlite file": {"database_url": "sqlite:////var/lib/hubnet/hubnet.db"},
    "log level in capitals": {"log_level": "WARNING"},
}


@pytest.mark.parametrize("values", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted(values: dict[str, Any], tmp_path: Path) -> None:
    Settings(state_dir=tmp_path, **values)
