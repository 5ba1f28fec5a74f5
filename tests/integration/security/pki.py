"""Throwaway certificate authorities for the TLS tests, made with `openssl` (no extra dependency)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Pki:
    """A CA and one server certificate it signed."""

    ca: Path
    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_pki(directory: Path, name: str, ips: tuple[str, ...] = ("127.0.0.1",)) -> Pki:
    """A new CA `name` and a server certificate it signed, valid for `ips` (subjectAltName), EC P-256, 1 day."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / f"{name}-ca.pem", directory / f"{name}-ca.key"
    cert, key, csr = directory / f"{name}.pem", directory / f"{name}.key", directory / f"{name}.csr"
    ext = directory / f"{name}.ext"
    _openssl("req", "-x509", *EC, "-days", "1", "-subj", f"/CN={name} test CA", "-keyout", str(ca_key),
             "-out", str(ca), "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    _openssl("req", "-new", *EC, "-subj", "/CN=hubnet-controller", "-keyout", str(key), "-out", str(csr))
    ext.write_text(
        f"subjectAltName={','.join('IP:' + ip for ip in ips)}\n"
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
             "-days", "1", "-out", str(cert), "-extfile", str(ext))  # fmt: skip
    return Pki(ca, cert, key)
