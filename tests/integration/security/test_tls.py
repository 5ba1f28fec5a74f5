"""TLS: the controller serves HTTPS only, TLS 1.2 minimum, under the issue's variable names; the agent's client
verifies the controller against `--ca-file` and refuses an impostor before sending anything.

Throwaway CAs and certificates come from `openssl`; everything listens on 127.0.0.1."""

from __future__ import annotations

import secrets
import shutil
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from hubnet.node.agent.client import ControllerClient, UntrustedController
from tests.integration.conftest import fresh_db
from tests.integration.security.pki import Pki, make_pki
from tests.integration.support import Databases, Server, node_body, run_hubnet, running
from tests.support.prereq import need


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Pki, Pki]:
    """(the real controller's, an impostor's): two unrelated CAs, each with a certificate for 127.0.0.1."""
    need(shutil.which("openssl") is not None, "needs openssl to make test certificates")
    directory = tmp_path_factory.mktemp("pki")
    return make_pki(directory, "real"), make_pki(directory, "impostor")


@pytest.fixture(scope="module")
def tls_server(
    databases: Databases, tmp_path_factory: pytest.TempPathFactory, pki: tuple[Pki, Pki]
) -> Iterator[Server]:
    real, _ = pki
    env = {"HUBNET_TLS_CERT_FILE": str(real.cert), "HUBNET_TLS_KEY_FILE": str(real.key)}
    server = Server(fresh_db(databases, "sqlite"), tmp_path_factory.mktemp("tls"), extra_env=env, ca=real.ca)
    with running(server):
        yield server


def _handshake(port: int, context: ssl.SSLContext) -> tuple[str | None, bytes]:
    """TLS to 127.0.0.1:port, GET /healthz; the negotiated version and the answer's first bytes."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        return tls.version(), tls.recv(64)


def test_tls12_client_is_served(tls_server: Server, pki: tuple[Pki, Pki]) -> None:
    context = ssl.create_default_context(cafile=str(pki[0].ca))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    version, answer = _handshake(tls_server.port, context)
    assert version == "TLSv1.2"
    assert answer.startswith(b"HTTP/1.1 200")


def _tls11_client(ca: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client really offer TLS 1.0/1.1
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    return context


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
def test_tls11_client_is_refused_by_the_server(tls_server: Server, pki: tuple[Pki, Pki]) -> None:
    # Control: this client does complete a TLS 1.1 handshake with a server that allows it (same certificate)...
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.load_cert_chain(pki[0].cert, pki[0].key)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        accepted: list[str | None] = []

        def serve_once() -> None:
            conn, _ = listener.accept()
            with old.wrap_socket(conn, server_side=True) as tls:
                accepted.append(tls.version())
                tls.recv(4096)
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

        thread = threading.Thread(target=serve_once, daemon=True)
        thread.start()
        assert _handshake(listener.getsockname()[1], _tls11_client(pki[0].ca))[0] == "TLSv1.1"
        thread.join(timeout=10)
    assert accepted == ["TLSv1.1"]
    # ...and the controller refuses it: no handshake, no answer.
    with pytest.raises(ssl.SSLError):
        _handshake(tls_server.port, _tls11_client(pki[0].ca))


def test_the_web_console_is_served_over_tls(tls_server: Server) -> None:
    """/ui/ comes from the same listener: with TLS configured, over HTTPS only, under its CSP."""
    answer = httpx.get(f"{tls_server.url}/ui/", verify=tls_server.verify, timeout=10)
    assert answer.status_code == 200 and "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert tls_server.url.startswith("https://")


def test_plain_http_is_not_served(tls_server: Server) -> None:
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=5) as raw:
        raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        try:
            answer = raw.recv(64)
        except ConnectionResetError:
            answer = b""
    assert not answer.startswith(b"HTTP/"), answer


def test_agent_client_with_the_right_ca_registers(tls_server: Server, pki: tuple[Pki, Pki]) -> None:
    body = node_body(1, prefix="tls-agent")
    client = ControllerClient(tls_server.url, ca_file=str(pki[0].ca))
    try:
        record = client.register(token=tls_server.bootstrap, **body)
    finally:
        client.close()
    assert record.name == body["name"] and record.subnet


def test_agent_client_with_another_ca_refuses_the_real_controller(tls_server: Server, pki: tuple[Pki, Pki]) -> None:
    for ca in (str(pki[1].ca), None):  # the impostor's CA, and the system trust store (which has neither)
        client = ControllerClient(tls_server.url, ca_file=ca)
        try:
            with pytest.raises(UntrustedController, match=r"TLS handshake failed.*CERTIFICATE_VERIFY_FAILED"):
                client.register(token=tls_server.bootstrap, **node_body(2, prefix="tls-wrong-ca"))
        finally:
            client.close()


@dataclass
class Impostor:
    """A TLS server on 127.0.0.1 with the impostor's certificate that records what it decrypts."""

    pki: Pki
    sock: socket.socket = field(default_factory=socket.socket)
    received: bytearray = field(default_factory=bytearray)
    handshake_errors: list[str] = field(default_factory=list)
    accepted: int = 0

    def serve(self) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki.cert, self.pki.key)
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed: the test is over
            self.accepted += 1
            conn.settimeout(5)
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    while chunk := tls.recv(4096):
                        self.received += chunk
            except (ssl.SSLError, OSError) as exc:
                self.handshake_errors.append(str(exc))
            finally:
                conn.close()


def test_impostor_is_refused_and_gets_no_credential(pki: tuple[Pki, Pki]) -> None:
    real, fake = pki
    impostor = Impostor(fake)
    impostor.sock.bind(("127.0.0.1", 0))
    impostor.sock.listen(8)
    thread = threading.Thread(target=impostor.serve, daemon=True)
    thread.start()
    token, secret = "boot-" + secrets.token_urlsafe(16), secrets.token_hex(32)
    client = ControllerClient(f"https://127.0.0.1:{impostor.sock.getsockname()[1]}", ca_file=str(real.ca))
    try:
        with pytest.raises(UntrustedController) as caught:
            client.register(token=token, name="tls-victim", address="192.168.77.7", secret=secret)
        with pytest.raises(UntrustedController):
            client.heartbeat(name="tls-victim", secret=secret)
    finally:
        client.close()
        impostor.sock.close()
        thread.join(timeout=10)
    message = str(caught.value)
    assert "refusing the controller" in message and "CERTIFICATE_VERIFY_FAILED" in message
    assert "--ca-file" in message and secret not in message and token not in message
    assert impostor.accepted == 2 and len(impostor.handshake_errors) == 2  # both handshakes failed
    assert bytes(impostor.received) == b""  # not one byte of a request, so neither the token nor the secret


def test_server_needs_both_tls_variables(tmp_path: Path, pki: tuple[Pki, Pki]) -> None:
    env = {"HUBNET_STATE_DIR": str(tmp_path), "HUBNET_TLS_CERT_FILE": str(pki[0].cert)}
    done = run_hubnet(["server"], env)
    assert done.returncode != 0
    assert "HUBNET_TLS_CERT_FILE" in done.stderr and "HUBNET_TLS_KEY_FILE" in done.stderr, done.stderr


def test_server_names_an_unloadable_key(tmp_path: Path, pki: tuple[Pki, Pki]) -> None:
    env = {
        "HUBNET_STATE_DIR": str(tmp_path),
        "HUBNET_TLS_CERT_FILE": str(pki[0].cert),
        "HUBNET_TLS_KEY_FILE": str(pki[1].key),  # not the certificate's key
    }
    done = run_hubnet(["server"], env)
    assert done.returncode != 0
    assert "cannot load the certificate and key" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_join_refuses_a_bad_ca_file(tmp_path: Path) -> None:
    base = ["node", "join", "--token", "t", "--name", "n1", "--address", "192.168.77.8", "--state-dir", str(tmp_path)]
    missing = run_hubnet([*base, "--controller", "https://127.0.0.1:1", "--ca-file", str(tmp_path / "nope.pem")], {})
    assert missing.returncode == 2 and "--ca-file" in missing.stderr, missing.stderr
    plain = run_hubnet([*base, "--controller", "http://127.0.0.1:1", "--ca-file", str(tmp_path / "nope.pem")], {})
    assert plain.returncode == 2 and "https://" in plain.stderr, plain.stderr
