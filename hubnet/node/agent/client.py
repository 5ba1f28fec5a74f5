"""The controller's HTTP API as the node and the router agent see it. The only module of the node side that imports
httpx.

Several controllers (replicas on one database) may be given: a request that finds no answer at one (`Unreachable`,
or 502/503/504 from a proxy or a replica that cannot serve) goes to the next at once, without back-off, and the one
that answered is remembered for the next request. Every request the agents send is idempotent (a registration is a
re-join, a heartbeat a renewal, a report a replacement), so sending it again elsewhere is safe even when the first
controller did get it."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Sequence
from typing import Any

import httpx

from hubnet.wire import Node, parse_problem

log = logging.getLogger(__name__)

# Answers that say "not this controller, now" rather than anything about the request: a proxy without a backend, a
# replica that cannot reach the database. Any other answer (2xx, 4xx, 500) is the cluster's answer: another replica
# would give the same one.
FAILOVER_STATUSES = frozenset({502, 503, 504})


class ControllerError(Exception):
    """The controller answered with an error (`status`: HTTP status; `problem`: the problem type's last part,
    e.g. `lease-released`, or "" when the body named none)."""

    def __init__(
        self, message: str, status: int | None = None, problem: str = "", fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.problem = problem
        self.fields = fields or {}  # field -> message, from the problem's `errors` list (422 answers)


class Unreachable(ControllerError):
    """No answer: connection refused, timeout, DNS. The agent keeps the node running and retries."""


class UntrustedController(ControllerError):
    """The TLS handshake failed: the controller's certificate is not signed by the CA we trust (an impostor, or
    the wrong `--ca-file`), or no TLS version both sides accept. Not transient: retrying does not fix it. The
    handshake happens before any request byte, so no credential was sent.

    With several controllers the request still goes on to the next one (nothing was sent, and an impostor on one
    address must not cut the node off a genuine replica), but never silently: every refusal is logged as an error
    naming the URL, whatever the next controller answers."""


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verify the controller against `ca_file` only (hostname checked too), or the system store without one.
    TLS 1.2 minimum, like the controller. Raises OSError / ssl.SSLError for an unreadable or invalid CA file."""
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class ControllerClient:
    """The controller API over one or several base URLs (replicas). Thread-safe: the agents call it from several
    threads; the remembered URL is a plain index (a racing update only picks which good URL is tried first)."""

    def __init__(
        self,
        base_urls: str | Sequence[str],
        *,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        ca_file: str | None = None,
    ) -> None:
        urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        self.base_urls = tuple(url.rstrip("/") for url in urls if url.strip())
        if not self.base_urls:
            raise ValueError("no controller URL given")
        self._current = 0  # index of the URL that answered last: tried first
        self._connect_timeout = timeout
        verify = tls_context(ca_file)
        self._http = httpx.Client(timeout=timeout, transport=transport, verify=verify)

    @property
    def base_url(self) -> str:
        """The controller tried first: the one that answered last."""
        return self.base_urls[self._current]

    def close(self) -> None:
        self._http.close()

    def register(self, *, token: str, name: str, address: str, secret: str, addresses: list[str] | None = None) -> Node:
        """Register or re-join. `addresses` (every underlay address, one per family) is sent only when there is more
        than one: a single-address node's request is exactly what controllers older than dual-stack accept. Raises
        ControllerError, or WireError (a ValueError) for an answer of the wrong shape."""
        body: dict[str, Any] = {"name": name, "address": address, "secret": secret}
        if addresses and len(addresses) > 1:
            body["addresses"] = addresses
        try:
            return Node.from_json(self.request("POST", "/v1/nodes", token, json=body))
        except ControllerError as exc:
            if "addresses" not in body or not _unknown_field(exc, "addresses"):
                raise
        # A controller older than dual-stack (nodes upgraded first): register with the primary address alone, so
        # the node keeps working on that family until the controller is upgraded and the agent re-joins.
        log.warning("the controller does not know `addresses` (older than dual-stack): registering %s only", address)
        del body["addresses"]
        return Node.from_json(self.request("POST", "/v1/nodes", token, json=body))

    def heartbeat(self, *, name: str, secret: str, bridge: dict[str, Any] | None = None) -> Node:
        """Renew the lease; `bridge` ({"name", "addresses"}) feeds the controller's integrity check."""
        body = {"bridge": bridge} if bridge is not None else None
        return Node.from_json(self.request("POST", f"/v1/nodes/{name}/heartbeat", secret, json=body))

    def deregister(self, *, name: str, secret: str) -> None:
        try:
            self.request("DELETE", f"/v1/nodes/{name}", secret)
        except ControllerError as exc:
            if exc.status != 404:
                raise

    def request(
        self, method: str, path: str, bearer: str, *, timeout: float | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Send the request to the remembered controller; when it does not answer (`Unreachable`, an untrusted TLS
        peer, 502/503/504), send it to the next one at once, each controller at most once. The first real answer
        wins and its controller is remembered. Raises that answer's ControllerError (4xx, 500), or, when every
        controller failed, the last failure. `timeout`: seconds to wait for the answer (a long-poll's), instead of
        the client's; connecting keeps the client's timeout."""
        count, start = len(self.base_urls), self._current
        failure: ControllerError | None = None
        for step in range(count):
            index = (start + step) % count
            base = self.base_urls[index]
            try:
                data = self._call(base, method, path, bearer, timeout=timeout, **kwargs)
            except UntrustedController as exc:
                failure = exc
                if count > 1:  # alone, the caller logs it; among several it must not vanish behind a later answer
                    log.error("%s", exc)
                continue
            except ControllerError as exc:
                if isinstance(exc, Unreachable) or exc.status in FAILOVER_STATUSES:
                    failure = exc
                    continue
                self._current = index  # it answered: alive, and its answer is the cluster's
                raise
            if index != start:
                log.warning("controller %s did not answer (%s); using %s", self.base_urls[start], failure, base)
            self._current = index
            return data
        assert failure is not None
        raise failure

    def _call(
        self, base: str, method: str, path: str, bearer: str, *, timeout: float | None, **kwargs: Any
    ) -> dict[str, Any]:
        """One attempt at one controller; httpx errors and error answers become ControllerError once, here."""
        limits = (
            httpx.Timeout(timeout, connect=self._connect_timeout) if timeout is not None else httpx.USE_CLIENT_DEFAULT
        )
        try:
            resp = self._http.request(
                method, base + path, headers={"Authorization": f"Bearer {bearer}"}, timeout=limits, **kwargs
            )
        except httpx.HTTPError as exc:
            tls = _tls_failure(exc)
            if tls is not None:
                raise UntrustedController(
                    f"{method} {path}: refusing the controller at {base}: TLS handshake failed ({tls}); "
                    "is --ca-file the CA that signed the controller's certificate? Nothing was sent"
                ) from None
            raise Unreachable(f"{method} {path}: controller {base} unreachable: {exc}") from None
        if resp.status_code >= 400:
            problem = parse_problem(resp.status_code, _json_or_none(resp), resp.reason_phrase)
            detail = problem.detail or problem.title
            errors = problem.body.get("errors")
            items = errors if isinstance(errors, list) else []
            fields = {str(e.get("field")): str(e.get("message", "")) for e in items if isinstance(e, dict)}
            raise ControllerError(
                f"{method} {path}: HTTP {resp.status_code}: {detail}", resp.status_code, problem.slug, fields
            )
        if resp.status_code == 204 or not resp.content:
            return {}
        data = resp.json()
        if not isinstance(data, dict):
            raise ControllerError(f"{method} {path}: unexpected body {data!r}", resp.status_code)
        return data


def _unknown_field(exc: ControllerError, name: str) -> bool:
    """A 422 saying the request had a field the controller does not know (pydantic's `extra_forbidden`)."""
    return exc.status == 422 and "extra inputs are not permitted" in exc.fields.get(name, "").lower()


def _tls_failure(exc: BaseException) -> ssl.SSLError | None:
    """The ssl error behind an httpx connect error (httpx wraps it twice), or None for any other failure."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)):
            return None  # the connection dropped mid-handshake: transient, like any other lost connection
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _json_or_none(resp: httpx.Response) -> object:
    try:
        return resp.json()
    except ValueError:
        return resp.text[:200] or None
