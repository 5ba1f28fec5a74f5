"""Admin commands: `hubnet nodes|pools|lookup|events|routes|check` — a client of the controller's REST API.

Server and token come from `--url`/`--token` or `HUBNET_URL`/`HUBNET_TOKEN`. Rich tables by default,
`--output json` for machines. Errors print one line to stderr and exit 1 (no traceback).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from hubnet.cli.apiclient import AdminClient

DEFAULT_URL = "http://127.0.0.1:6780"


class Output(StrEnum):
    table = "table"
    json = "json"


Url = Annotated[str, typer.Option("--url", envvar="HUBNET_URL", help="Controller URL.")]
Token = Annotated[str | None, typer.Option("--token", envvar="HUBNET_TOKEN", help="Admin token.")]
Out = Annotated[Output, typer.Option("--output", "-o", help="table or json.")]

# Every family's values, one per line (IPv4 first): the lists of the record, or its singular fields from a
# controller older than dual-stack.
NODE_COLUMNS = ("name", "addresses", "subnets", "gateways", "state", "route_state", "generation")
PLURALS = {"addresses": "address", "subnets": "subnet", "gateways": "gateway"}


@contextmanager
def _client(url: str, token: str | None) -> Iterator[AdminClient]:
    from hubnet.cli.apiclient import AdminClient, ApiError

    try:
        with AdminClient(url, token) as client:
            yield client
    except ApiError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _cell(value: Any) -> str:
    if value is None or value == []:
        return "-"
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "\n".join(value)
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _node_row(record: dict[str, Any]) -> dict[str, Any]:
    """A node record for the table: each list column falls back to its singular field when the list is empty."""
    row = dict(record)
    for plural, singular in PLURALS.items():
        if not row.get(plural) and row.get(singular):
            row[plural] = [row[singular]]
    return row


def _emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], output: Output, *, title: str = "") -> None:
    if output is Output.json:
        typer.echo(json.dumps(list(rows), indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title or None)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    Console().print(table)


def _emit_one(record: dict[str, Any], output: Output) -> None:
    if output is Output.json:
        typer.echo(json.dumps(record, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=False)
    for key, value in record.items():
        table.add_row(key, _cell(value))
    Console().print(table)


nodes_app = typer.Typer(help="Nodes and their subnets.", no_args_is_help=True)


@nodes_app.command("list")
def nodes_list(
    url: Url = DEFAULT_URL, token: Token = None, output: Out = Output.table, state: str | None = None
) -> None:
    """List nodes (all pages), optionally only those in STATE (active, stale, released)."""
    with _client(url, token) as client:
        rows = [node.to_json() for node in client.nodes(state=state)]
    if output is Output.table:
        rows = [_node_row(row) for row in rows]
    _emit(rows, NODE_COLUMNS, output, title=f"{len(rows)} nodes")


@nodes_app.command("show")
def nodes_show(name: str, url: Url = DEFAULT_URL, token: Token = None, output: Out = Output.table) -> None:
    """Show one node's record."""
    with _client(url, token) as client:
        _emit_one(client.node(name).to_json(), output)


@nodes_app.command("delete")
def nodes_delete(name: str, url: Url = DEFAULT_URL, token: Token = None, output: Out = Output.table) -> None:
    """Release a node's subnet (quarantined before reuse) and withdraw its route."""
    with _client(url, token) as client:
        client.delete(f"/v1/nodes/{name}")
    _done({"deleted": "node", "name": name}, f"deleted node {name}", output)


def _done(record: dict[str, Any], message: str, output: Output) -> None:
    typer.echo(json.dumps(record) if output is Output.json else message)


pools_app = typer.Typer(help="Pools (cluster CIDRs): list (the default), add, delete.")
POOL_COLUMNS = ("cidr", "family", "node_prefix", "total", "allocated", "free", "low")


@pools_app.callback(invoke_without_command=True)
def pools(ctx: typer.Context, url: Url = DEFAULT_URL, token: Token = None, output: Out = Output.table) -> None:
    """Pools of both families (IPv4 first) with total, allocated and free subnets; a warning for each pool low on
    free subnets."""
    if ctx.invoked_subcommand is not None:
        return
    with _client(url, token) as client:
        pools, warnings = client.pools()
    rows = [pool.to_json() for pool in pools]
    if output is Output.json:
        typer.echo(json.dumps({"items": rows, "warnings": warnings}, indent=2))
        return
    _emit(rows, POOL_COLUMNS, output)
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)


@pools_app.command("add")
def pools_add(
    cidr: str,
    node_prefix: Annotated[
        int | None,
        typer.Option(help="Prefix length of each node's subnet [default: the server's, 24 for IPv4, 64 for IPv6]."),
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    output: Out = Output.table,
) -> None:
    """Add a pool (e.g. 10.250.0.0/16 or fd00:10:250::/56); refused when it overlaps a pool, the service CIDR or the
    underlay."""
    with _client(url, token) as client:
        _emit_one(client.add_pool(cidr, node_prefix).to_json(), output)


@pools_app.command("delete")
def pools_delete(cidr: str, url: Url = DEFAULT_URL, token: Token = None, output: Out = Output.table) -> None:
    """Delete a pool no live node holds a subnet of (not the configured HUBNET_CLUSTER_CIDR)."""
    with _client(url, token) as client:
        client.delete(f"/v1/pools/{cidr}")
    _done({"deleted": "pool", "cidr": cidr}, f"deleted pool {cidr}", output)


def lookup(ip: str, url: Url = DEFAULT_URL, token: Token = None, output: Out = Output.table) -> None:
    """Which node's subnet holds IP (an IPv4 or IPv6 address)."""
    with _client(url, token) as client:
        _emit_one(client.lookup(ip).to_json(), output)


def _event_row(event: dict[str, Any]) -> dict[str, Any]:
    row = dict(event)
    data = row.pop("data", None)
    if data:
        row["data"] = json.dumps(data, sort_keys=True)
    return row


def _print_events(items: list[dict[str, Any]], output: Output) -> None:
    if output is Output.json:
        for item in items:
            typer.echo(json.dumps(item))
        return
    for item in items:
        row = _event_row(item)
        typer.echo("  ".join(_cell(row.get(k)) for k in ("revision", "created_at", "type", "node", "data")))


def events(
    url: Url = DEFAULT_URL,
    token: Token = None,
    output: Out = Output.table,
    since: Annotated[int, typer.Option(help="Show events after this revision.")] = 0,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep watching (long-poll).")] = False,
) -> None:
    """The event log (audit trail); `--follow` watches it like `tail -f`."""
    with _client(url, token) as client:
        page = client.events(since=since)
        _print_events(page["items"], output)
        revision = page["revision"]
        while follow:
            page = client.events(since=revision, wait=30)
            _print_events(page["items"], output)
            revision = max(revision, page["revision"])
            sys.stdout.flush()


def _route_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    def key(route: dict[str, Any]) -> tuple[str, str]:
        return str(route.get("prefix")), str(route.get("next_hop"))

    actual = {key(r) for r in report.get("actual", [])}
    missing = {key(r) for r in report.get("missing", [])}
    foreign = {str(r.get("prefix")): r.get("holder") for r in report.get("foreign", [])}
    rows = []
    for route in report.get("desired", []):
        k = key(route)
        status = "missing" if k in missing else ("ok" if k in actual else "?")
        if status == "missing" and k[0] in foreign:
            status = f"held by a foreign route ({foreign[k[0]]})"
        rows.append({**route, "status": status})
    rows.extend({**route, "status": "unexpected"} for route in report.get("unexpected", []))
    return rows


def routes(url: Url = DEFAULT_URL, token: Token = None, output: Out = Output.table) -> None:
    """The drift report: desired routes vs the routes hubnet owns on the router."""
    with _client(url, token) as client:
        report = client.get("/v1/routes")
    if output is Output.json:
        typer.echo(json.dumps(report, indent=2))
        return
    _emit(_route_rows(report), ("prefix", "next_hop", "node", "status"), output)


def check(
    url: Url = DEFAULT_URL,
    token: Token = None,
    output: Out = Output.table,
    as_json: Annotated[bool, typer.Option("--json", hidden=True, help="Same as --output json.")] = False,
) -> None:
    """Integrity check: database vs router table vs node agents. Exit status 2 when any problem is found."""
    with _client(url, token) as client:
        report = client.get("/v1/check")
    problems = report.get("problems", [])
    if as_json or output is Output.json:
        typer.echo(json.dumps(report, indent=2))
    else:
        checked = report.get("checked", {})
        routes_checked = checked.get("routes")
        typer.echo(
            f"checked {checked.get('nodes')} nodes, "
            + ("no route backend (routes not checked)" if routes_checked is None else f"{routes_checked} owned routes")
            + f", {checked.get('bridges')} bridge reports: {len(problems)} problem(s)"
        )
        for problem in problems:
            typer.echo(f"{problem['kind']}: {problem['detail']}")
    if problems:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.add_typer(nodes_app, name="nodes")
    app.add_typer(pools_app, name="pools")
    app.command()(lookup)
    app.command()(events)
    app.command()(routes)
    app.command()(check)
