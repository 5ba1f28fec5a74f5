"""The `hubnet` command. Each command group lives in its own module and registers itself here.

Heavy libraries (FastAPI, SQLAlchemy, pyroute2, httpx) are imported inside the commands, not at module level,
so `hubnet --help` stays fast.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="hubnet",
    help="hubnet: hub-and-spoke pod networking (controller, node agent, router agent, CNI plugin, lab).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """hubnet: hub-and-spoke pod networking (controller, node agent, router agent, CNI plugin, lab)."""


@app.command()
def version() -> None:
    """Print hubnet's version."""
    from hubnet import __version__

    typer.echo(__version__)


# Each module exposes `register(app)`. Order is the order of `hubnet --help`.
_GROUPS = (
    "hubnet.cli.lab",
    "hubnet.cli.server",
    "hubnet.cli.admin",
    "hubnet.cli.tokens",
    "hubnet.cli.bgp",
    "hubnet.cli.routers",
    "hubnet.cli.node",
    "hubnet.cli.router",
)


def build() -> typer.Typer:
    """Register every command group that is present (a module missing in a partial install is skipped)."""
    for name in _GROUPS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(app)
    return app


def main() -> None:
    build()()
