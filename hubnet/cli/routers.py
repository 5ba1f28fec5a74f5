"""`hubnet routers list|delete`: the router agents a controller in agent mode knows (admin API client).

The router agent itself is `hubnet router join` (on each router host); these commands only look at and remove what
the controllers store about the agents.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from hubnet.cli.admin import DEFAULT_URL, Out, Output, Token, Url, _client, _emit

routers_app = typer.Typer(help="Router agents (agent mode): list, delete.", no_args_is_help=True)
COLUMNS = ("name", "status", "last_report", "routes", "missing", "unexpected", "error")
AsJson = Annotated[bool, typer.Option("--json", help="Same as --output json.")]


def age(then: float | None, now: float) -> str:
    """How long ago, as `0.4s ago`, `12s ago`, `3m04s ago`, `2h05m ago`; `never` before the first report."""
    if then is None:
        return "never"
    seconds = max(0.0, now - then)
    if seconds < 10:
        return f"{seconds:.1f}s ago"
    s = int(seconds)
    if s < 60:
        return f"{s}s ago"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s ago"
    return f"{s // 3600}h{s // 60 % 60:02d}m ago"


def row(router: dict[str, Any], now: float) -> dict[str, Any]:
    return {
        **router,
        "last_report": age(router.get("last_report_at"), now),
        "routes": router.get("route_count"),
        "error": router.get("last_error"),
    }


@routers_app.command("list")
def list_routers(
    url: Url = DEFAULT_URL, token: Token = None, output: Out = Output.table, as_json: AsJson = False
) -> None:
    """Every router agent: status (syncing, up, down), last report, routes in its table, drift, last error."""
    with _client(url, token) as client:
        items = client.get("/v1/routers")["items"]
    if as_json or output is Output.json:
        _emit(items, COLUMNS, Output.json)
        return
    now = time.time()
    _emit([row(r, now) for r in items], COLUMNS, Output.table, title=f"{len(items)} router agents")


@routers_app.command("delete")
def delete(
    name: str, url: Url = DEFAULT_URL, token: Token = None, output: Out = Output.table, as_json: AsJson = False
) -> None:
    """Forget router agent NAME: the nodes' readiness stops waiting for it (it may join again)."""
    with _client(url, token) as client:
        client.delete(f"/v1/routers/{name}")
    if as_json or output is Output.json:
        typer.echo(json.dumps({"deleted": "router", "name": name}))
    else:
        typer.echo(f"deleted router agent {name}")


def register(app: typer.Typer) -> None:
    app.add_typer(routers_app, name="routers")
