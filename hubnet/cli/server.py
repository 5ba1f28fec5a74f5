"""`hubnet server` (the controller under uvicorn) and `hubnet db upgrade`. Configuration: HUBNET_* variables."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

db_app = typer.Typer(help="Database schema (Alembic).", no_args_is_help=True)


def _settings() -> object:
    from pydantic import ValidationError

    from server.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(_describe(e["loc"], e["msg"]) for e in exc.errors())
        raise typer.BadParameter(problems, param_hint="environment") from None


def _describe(loc: tuple[int | str, ...], message: str) -> str:
    return f"HUBNET_{'_'.join(map(str, loc)).upper()}: {message}" if loc else message


def serve(
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Run the controller: bring the schema to head, then serve the API on HUBNET_LISTEN until SIGTERM."""
    import uvicorn

    from server.app import create_app
    from server.db.migrate import upgrade
    from server.settings import Settings

    settings = _settings()
    assert isinstance(settings, Settings)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    upgrade(settings.db_url)
    host, port = settings.listen_host_port
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level,
        access_log=access_log,
        # Long keep-alive: agents renew every few seconds, and a client reusing a connection the server has just
        # closed as idle gets a reset it does not retry (POST). Shutdown does not wait for idle connections.
        timeout_keep_alive=75,
        timeout_graceful_shutdown=3,
        ssl_certfile=settings.tls_cert,
        ssl_keyfile=settings.tls_key,
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Bring the database (HUBNET_DATABASE_URL) to the given schema revision; idempotent."""
    from server.db.migrate import current, upgrade
    from server.settings import Settings

    settings = _settings()
    assert isinstance(settings, Settings)
    upgrade(settings.db_url, revision)
    typer.echo(f"database at revision {current(settings.db_url)}")


def register(app: typer.Typer) -> None:
    app.command("server")(serve)
    app.add_typer(db_app, name="db")
