"""The `--controller` option the agents share (`hubnet node join`, `hubnet router join`): repeatable, or
HUBNET_CONTROLLERS=url1,url2 — the controllers (replicas) the agent fails over between, in order."""

from __future__ import annotations

import os
from typing import Annotated

import typer

ENV = "HUBNET_CONTROLLERS"

ControllerOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--controller",
        metavar="URL",
        help="Controller base URL, e.g. http://10.0.0.1:6780. Repeat it (or give url1,url2) for several controllers "
        f"(replicas): a request none answers goes to the next at once. Default: ${ENV} (comma-separated).",
        show_default=False,
    ),
]


def controller_list(values: list[str] | None) -> str:
    """The controllers as one comma-separated list: the `--controller` flags, or else $HUBNET_CONTROLLERS."""
    given = ",".join(values or ())
    return given if given.strip(", ") else os.environ.get(ENV, "")


def check_ca(controllers: str, ca_file: str) -> None:
    """A CA file only makes sense for https:// controllers, and must load: fail at the command line, not in the
    agent's loop."""
    if not ca_file:
        return
    for url in (u.strip() for u in controllers.split(",")):
        if url and not url.lower().startswith("https://"):
            raise typer.BadParameter(f"--ca-file needs https:// controllers, got {url!r}")
    from hubnet.node.agent.client import tls_context

    try:
        tls_context(ca_file)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise typer.BadParameter(f"--ca-file {ca_file!r}: not a readable PEM CA bundle: {exc}") from None
