"""The controller's TLS server context: built by us (not uvicorn's defaults) so the floor is explicit."""

from __future__ import annotations

import ssl
from pathlib import Path

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2


class TLSConfigError(ValueError):
    """The certificate or key cannot be loaded; the message names the variables and the file."""


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context with TLS 1.2 as the minimum (1.0/1.1 handshakes fail) and the given chain and key.

    Loaded before the server binds, so a bad file stops `hubnet server` with a message instead of a traceback
    from inside uvicorn."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_VERSION
    try:
        context.load_cert_chain(certfile=cert, keyfile=key)
    except (OSError, ssl.SSLError) as exc:
        raise TLSConfigError(
            f"HUBNET_TLS_CERT_FILE={cert} / HUBNET_TLS_KEY_FILE={key}: cannot load the certificate and key: {exc}"
        ) from None
    return context
