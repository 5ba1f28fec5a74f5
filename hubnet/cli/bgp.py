"""`hubnet bgp peers [add|delete]`: the BGP peers of the `bgp` route backend (admin API client).

A password is never taken from the command line (argv is visible to every user of the machine, and lands in shell
history): `--password-file FILE` (`-` for standard input) or `--password-env VARIABLE`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from hubnet.cli.admin import DEFAULT_URL, Out, Output, Token, Url, _client, _emit, _emit_one

bgp_app = typer.Typer(help="BGP route-reflector mode (HUBNET_ROUTE_BACKEND=bgp).", no_args_is_help=True)
peers_app = typer.Typer(help="BGP peers: list (the default), add, delete.")
bgp_app.add_typer(peers_app, name="peers")
COLUMNS = ("address", "asn", "state", "uptime", "sent", "accepted", "last_error", "description")
AsJson = Annotated[bool, typer.Option("--json", help="Same as --output json.")]


def _output(output: Output, as_json: bool) -> Output:
    return Output.json if as_json else output


def uptime(seconds: float | None) -> str:
    """1d02h03m, 2h03m04s, 3m04s, 4s; `-` while the session is not Established."""
    if seconds is None:
        return "-"
    s = int(seconds)
    days, hours, minutes, secs = s // 86400, s // 3600 % 24, s // 60 % 60, s % 60
    if days:
        return f"{days}d{hours:02d}h{minutes:02d}m"
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _row(peer: dict[str, Any]) -> dict[str, Any]:
    return {
        **peer,
        "uptime": uptime(peer.get("uptime_seconds")),
        "sent": peer.get("prefixes_sent"),
        "accepted": peer.get("prefixes_accepted"),
        "description": peer.get("description") or None,
    }


@peers_app.callback(invoke_without_command=True)
def peers(
    ctx: typer.Context, url: Url = DEFAULT_URL, token: Token = None, output: Out = Output.table, as_json: AsJson = False
) -> None:
    """Every peer with its session: state, uptime, prefixes sent and accepted, last error."""
    if ctx.invoked_subcommand is not None:
        return
    with _client(url, token) as client:
        items = client.get("/v1/bgp/peers")["items"]
    output = _output(output, as_json)
    rows = items if output is Output.json else [_row(peer) for peer in items]
    _emit(rows, COLUMNS, output, title=f"{len(rows)} BGP peers")


@peers_app.command("add")
def add(
    address: Annotated[str, typer.Argument(help="The peer's IPv4 or IPv6 address (fe80::1%eth0 for link-local).")],
    asn: Annotated[int, typer.Option("--asn", help="The peer's AS number (iBGP when it is HUBNET_BGP_ASN).")],
    password_file: Annotated[
        Path | None,
        typer.Option("--password-file", help="Read the TCP MD5 password from this file ('-': standard input)."),
    ] = None,
    password_env: Annotated[
        str | None, typer.Option("--password-env", help="Read the TCP MD5 password from this environment variable.")
    ] = None,
    multihop: Annotated[int | None, typer.Option("--multihop", help="eBGP multihop TTL (1..255).")] = None,
    description: Annotated[str, typer.Option("--description", help="Free text: which router this is.")] = "",
    url: Url = DEFAULT_URL,
    token: Token = None,
    output: Out = Output.table,
    as_json: AsJson = False,
) -> None:
    """Add a peer; the controller validates it (the error names the field). No password on the command line."""
    body: dict[str, Any] = {"address": address, "asn": asn, "description": description}
    password = _password(password_file, password_env)
    if password is not None:
        body["password"] = password
    if multihop is not None:
        body["multihop"] = multihop
    with _client(url, token) as client:
        created = client.post("/v1/bgp/peers", body)
    _emit_one(created, _output(output, as_json))


@peers_app.command("delete")
def delete(
    address: str, url: Url = DEFAULT_URL, token: Token = None, output: Out = Output.table, as_json: AsJson = False
) -> None:
    """Delete the peer with ADDRESS (any spelling); the speaker closes its session."""
    from urllib.parse import quote

    with _client(url, token) as client:
        client.delete(f"/v1/bgp/peers/{quote(address, safe=':')}")
    if _output(output, as_json) is Output.json:
        typer.echo(json.dumps({"deleted": "bgp_peer", "address": address}))
    else:
        typer.echo(f"deleted BGP peer {address}")


def _password(path: Path | None, variable: str | None) -> str | None:
    """The password from a file (one trailing line break dropped) or a variable; usage errors exit 2."""
    if path is not None and variable is not None:
        raise typer.BadParameter("give --password-file or --password-env, not both")
    if variable is not None:
        value = os.environ.get(variable)
        if not value:
            message = f"environment variable {variable} is not set or empty"
            raise typer.BadParameter(message, param_hint="--password-env")
        return value
    if path is None:
        return None
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc}", param_hint="--password-file") from None
    return text.removesuffix("\n").removesuffix("\r")


def register(app: typer.Typer) -> None:
    app.add_typer(bgp_app, name="bgp")
