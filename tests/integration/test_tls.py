"""HUBNET_TLS_CERT / HUBNET_TLS_KEY: the API is served over HTTPS with the configured certificate."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import fresh_db
from tests.integration.support import Databases, Server, node_body, running
from tests.support.prereq import need


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=hubnet-test",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def test_https_with_configured_certificate(databases: Databases, tmp_path: Path) -> None:
    need(shutil.which("openssl") is not None, "needs openssl to make a test certificate")
    cert, key = _self_signed(tmp_path)
    env = {"HUBNET_TLS_CERT": str(cert), "HUBNET_TLS_KEY": str(key)}
    server = Server(fresh_db(databases, "sqlite"), tmp_path, extra_env=env, ca=cert)
    with running(server), server.client(server.bootstrap) as boot:
        assert boot.post("/v1/nodes", json=node_body(1, prefix="tls")).status_code == 201
        with pytest.raises(httpx.HTTPError):  # plain HTTP is not served
            httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
        with pytest.raises(httpx.ConnectError):  # and an unverified certificate is refused by a verifying client
            httpx.get(f"{server.url}/healthz", timeout=5)
