"""The router agent's own secret: generated once, kept in `<state-dir>/router-<name>.json` (0600, durable), sent at
every (re-)join with the bootstrap token and then used alone for the feed and the reports.

As with the node's secret, the controller keeps only its hash: a file that exists but holds no usable secret is
refused loudly, never replaced (a new secret would simply re-join, but an edited or truncated file is a sign of
trouble the operator should see).
"""

from __future__ import annotations

import json
import secrets

from hubnet.node.agent.secret import ALLOWED, SecretError, create_durably

MIN_LEN, MAX_LEN = 32, 128  # the controller's rule for router secrets (POST /v1/routers)


def load_or_create(path: str, name: str) -> str:
    """The secret stored at `path` for router `name`; created the first time. Raises SecretError for a file that
    is not `{"name": <name>, "secret": <32-128 token characters>}`."""
    try:
        return _load(path, name)
    except FileNotFoundError:
        pass
    create_durably(path, json.dumps({"name": name, "secret": secrets.token_hex(32)}) + "\n")
    return _load(path, name)


def _load(path: str, name: str) -> str:
    with open(path) as f:
        text = f.read()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    secret = data.get("secret") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("name") != name or not _valid(secret):
        raise SecretError(
            f"{path} exists but holds no valid secret for router {name!r} (expected "
            f'{{"name": "{name}", "secret": <{MIN_LEN}-{MAX_LEN} characters of A-Za-z0-9._~+/=->}}). Refusing to '
            "replace it: restore the file, or delete it to join with a new secret"
        )
    assert isinstance(secret, str)
    return secret


def _valid(secret: object) -> bool:
    return isinstance(secret, str) and MIN_LEN <= len(secret) <= MAX_LEN and set(secret) <= ALLOWED
