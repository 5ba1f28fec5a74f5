"""`hubnet server` (the controller under uvicorn) and `hubnet db upgrade`. Configuration: HUBNET_* variables."""

from __future__ import annotations

import logging
import shutil
import socket
import ssl
from collections.abc import Callable
from typing import Annotated

import typer

db_app = typer.Typer(help="Database schema (Alembic).", no_args_is_help=True)
log = logging.getLogger("hubnet.server")


def _settings() -> object:
    from pydantic import ValidationError

    from hubnet.server.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(_describe(e["loc"], e["msg"]) for e in exc.errors())
        raise typer.BadParameter(problems, param_hint="environment") from None


def _describe(loc: tuple[int | str, ...], message: str) -> str:
    if not loc:
        return message
    name = "_".join(map(str, loc)).upper()
    return f"{name if name.startswith('HUBNET_') else 'HUBNET_' + name}: {message}"


def serve(
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Run the controller: bring the schema to head, then serve the API on HUBNET_LISTEN until SIGTERM."""
    import uvicorn

    from hubnet.server.app import create_app
    from hubnet.server.db.migrate import upgrade
    from hubnet.server.protocol import with_read_timeout
    from hubnet.server.settings import Settings

    settings = _settings()
    assert isinstance(settings, Settings)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _check_system(settings)
    _warn_unusable(settings)
    tls = _tls_factory(settings)
    upgrade(settings.db_url)
    host, port = settings.listen_host_port
    uvicorn.run(
        create_app(settings, freeze_heap=True),
        host=host,
        port=port,
        log_level=settings.log_level,
        access_log=access_log,
        # Long keep-alive: agents renew every few seconds, and a client reusing a connection the server has just
        # closed as idle gets a reset it does not retry (POST). Shutdown does not wait for idle connections.
        timeout_keep_alive=settings.keep_alive_seconds,
        # A request must arrive whole in time: slow or silent clients cannot hold connections open (slowloris).
        http=with_read_timeout(settings.request_timeout_seconds),
        timeout_graceful_shutdown=3,
        # HTTPS only when configured; uvicorn binds one socket, so plain HTTP is then not served at all.
        ssl_context_factory=tls,
    )


def _check_system(settings: object) -> None:
    """The settings checks that need the running system; a failure names its variable (typer.BadParameter)."""
    from hubnet.server.settings import Settings

    assert isinstance(settings, Settings)
    host, port = settings.listen_host_port
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        message = f"HUBNET_LISTEN: cannot resolve {host!r}: {exc.strerror or exc}"
        raise typer.BadParameter(message, param_hint="environment") from None
    if settings.route_backend in ("kernel", "bgp") and settings.router_netns:
        _check_netns(settings.router_netns)
    if settings.route_backend == "bgp" and shutil.which(settings.bgp_gobgpd) is None:
        message = (
            f"HUBNET_BGP_GOBGPD: {settings.bgp_gobgpd!r} is not an executable on PATH "
            "(the bgp route backend runs GoBGP's gobgpd: apt-get install gobgpd)"
        )
        raise typer.BadParameter(message, param_hint="environment")


def _check_netns(name: str) -> None:
    from hubnet.linux import netns

    if not netns.exists(name):
        message = f"HUBNET_ROUTER_NETNS: no network namespace {name!r} ({netns.path_of(name)} does not exist)"
        raise typer.BadParameter(message, param_hint="environment")


def _warn_unusable(settings: object) -> None:
    """Settings that start a controller part of which nobody can use: a WARNING naming the variable."""
    from hubnet.server.settings import Settings

    assert isinstance(settings, Settings)
    if settings.admin_tokens:
        return  # an admin can also create bootstrap tokens (/v1/tokens)
    log.warning("HUBNET_ADMIN_TOKENS is empty: every admin request (pools, tokens, nodes, events) will be refused")
    if not settings.bootstrap_tokens:
        log.warning(
            "HUBNET_BOOTSTRAP_TOKENS is empty too: only bootstrap tokens created earlier through /v1/tokens can "
            "register nodes"
        )


def _tls_factory(settings: object) -> Callable[[object, Callable[[], ssl.SSLContext]], ssl.SSLContext] | None:
    """uvicorn's context hook returning our context (TLS 1.2 minimum), or None for plain HTTP."""
    from hubnet.server.settings import Settings
    from hubnet.server.tls import TLSConfigError, server_context

    assert isinstance(settings, Settings)
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    try:
        context = server_context(settings.tls_cert, settings.tls_key)
    except TLSConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="environment") from None
    return lambda _config, _default: context


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Bring the database (HUBNET_DATABASE_URL) to the given schema revision; idempotent."""
    from hubnet.server.db.migrate import current, upgrade
    from hubnet.server.settings import Settings

    settings = _settings()
    assert isinstance(settings, Settings)
    upgrade(settings.db_url, revision)
    typer.echo(f"database at revision {current(settings.db_url)}")


def register(app: typer.Typer) -> None:
    app.command("server")(serve)
    app.add_typer(db_app, name="db")
