"""`hubnet tokens create|list|revoke`: bootstrap tokens with optional expiry and maximum uses (admin API client).

The token's value is printed once, by `create`; the controller keeps only its hash.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from hubnet.cli.admin import DEFAULT_URL, Out, Output, Token, Url, _client, _emit

tokens_app = typer.Typer(help="Bootstrap tokens (expiry, maximum uses, revocation).", no_args_is_help=True)
COLUMNS = ("id", "description", "state", "uses", "max_uses", "expires_at", "created_at")


@tokens_app.command("create")
def create(
    url: Url = DEFAULT_URL,
    token: Token = None,
    output: Out = Output.table,
    description: Annotated[str, typer.Option(help="Who or what the token is for.")] = "",
    ttl: Annotated[float | None, typer.Option(help="Expire after this many seconds.", min=1)] = None,
    max_uses: Annotated[int | None, typer.Option(help="Registrations that may create a node.", min=1)] = None,
) -> None:
    """Create a token and print it (the only time it is shown)."""
    body: dict[str, Any] = {"description": description, "ttl_seconds": ttl, "max_uses": max_uses}
    with _client(url, token) as client:
        created = client.post("/v1/tokens", {k: v for k, v in body.items() if v is not None})
    if output is Output.json:
        typer.echo(json.dumps(created, indent=2))
        return
    typer.echo(created["token"])
    limits = f"max uses {created['max_uses'] or 'unlimited'}, expires {created['expires_at'] or 'never'}"
    typer.echo(f"token {created['id']} ({limits}); store it now, it cannot be shown again", err=True)


@tokens_app.command("list")
def list_tokens(url: Url = DEFAULT_URL, token: Token = None, output: Out = Output.table) -> None:
    """Stored tokens with their uses and state (never the tokens themselves)."""
    with _client(url, token) as client:
        rows = client.get("/v1/tokens")["items"]
    _emit(rows, COLUMNS, output, title=f"{len(rows)} bootstrap tokens")


@tokens_app.command("revoke")
def revoke(token_id: int, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Revoke token TOKEN_ID (idempotent); nodes it admitted keep working."""
    with _client(url, token) as client:
        client.delete(f"/v1/tokens/{token_id}")
    typer.echo(f"revoked token {token_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(tokens_app, name="tokens")
