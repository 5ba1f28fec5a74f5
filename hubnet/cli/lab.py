"""`hubnet lab up|check|status|down`: the network-namespace lab (router + nodes + pods on one machine).

Errors print one line to stderr and exit 1 (no traceback); `check` exits 1 when any probe fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from hubnet.lab.check import CheckReport

lab = typer.Typer(help="The netns lab: a router, nodes and pods from network namespaces, real processes.")

Name = Annotated[str, typer.Option("--name", help="Lab name (1-12 of a-z0-9); several labs can coexist.")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def register(app: typer.Typer) -> None:
    app.add_typer(lab, name="lab")


def _console(err: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=err, highlight=False)


@contextmanager
def _errors() -> Iterator[None]:
    from hubnet.lab.errors import LabError
    from hubnet.lab.plan import PlanError

    try:
        yield
    except (LabError, PlanError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@lab.command()
def up(
    name: Name = "lab",
    nodes: Annotated[int, typer.Option("--nodes", help="Number of nodes.")] = 2,
    pods: Annotated[int, typer.Option("--pods", help="Pods per node.")] = 2,
    keep: Annotated[bool, typer.Option("--keep-on-failure", help="Leave a failed lab in place to debug.")] = False,
    ipv4_only: Annotated[bool, typer.Option("--ipv4-only", help="IPv4 only (default: dual-stack).")] = False,
    ipv6_only: Annotated[bool, typer.Option("--ipv6-only", help="IPv6 only (default: dual-stack).")] = False,
    router: Annotated[
        str,
        typer.Option(
            "--router",
            help="kernel: the controller programs the router's kernel table (default); bird / frr: that BGP daemon "
            "is the router and learns the routes over BGP from the controller, which runs in its own namespace.",
        ),
    ] = "kernel",
    routers: Annotated[
        int,
        typer.Option(
            "--routers",
            help="Routers sharing the router address through VRRP (keepalived), each programmed by a router agent. "
            "More than 1 router or controller builds the HA lab.",
        ),
    ] = 1,
    controllers: Annotated[
        int,
        typer.Option("--controllers", help="Controller replicas on the lab's own PostgreSQL (HA lab)."),
    ] = 1,
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            help="hub: pods reach other nodes through the router (default); direct: every node routes to the "
            "others itself (HUBNET_MODE=direct), no router in the pod path.",
        ),
    ] = "hub",
) -> None:
    """Build a lab: a router, NODES node agents, PODS pods per node; dual-stack (IPv4 + IPv6) unless --ipv4-only
    or --ipv6-only. The controller runs on the router (--router kernel) or next to it as a BGP speaker (bird, frr);
    with --routers 2 --controllers 2, two VRRP routers with router agents and two controllers on PostgreSQL."""
    from rich.markup import escape

    from hubnet.lab import lifecycle
    from hubnet.lab.errors import LabError, LabExists, PrerequisiteMissing
    from hubnet.lab.status import status

    if ipv4_only and ipv6_only:
        typer.echo("error: --ipv4-only and --ipv6-only exclude each other", err=True)
        raise typer.Exit(2)
    families = (4,) if ipv4_only else (6,) if ipv6_only else (4, 6)
    console = _console()
    with _errors():
        try:
            state = lifecycle.up(
                name,
                nodes,
                pods,
                progress=lambda msg: console.print(f"[green]✓[/] {escape(msg)}"),  # "[fd00::2]" is no markup
                families=families,
                router=router,
                routers=routers,
                controllers=controllers,
                mode=mode,
            )
        except (LabExists, PrerequisiteMissing):
            raise  # nothing was built
        except (LabError, KeyboardInterrupt) as exc:
            if isinstance(exc, KeyboardInterrupt):
                exc = LabError("interrupted")
            if not keep:
                lifecycle.down(name)
                exc.args = (f"{exc}\n(the partial lab was removed; --keep-on-failure keeps it to debug)",)
            raise exc from None
        _print_table(console, status(state))


@lab.command()
def status(name: Name = "lab", as_json: AsJson = False) -> None:
    """Show the lab: nodes, subnets, pods, addresses, route state (`--json`: the documented contract)."""
    from hubnet.lab.status import load
    from hubnet.lab.status import status as build

    with _errors():
        data = build(load(name))
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        _print_table(_console(), data)


@lab.command()
def check(name: Name = "lab", as_json: AsJson = False) -> None:
    """Prove connectivity: every ordered pod pair over TCP without NAT, every pod to its gateway and the router."""
    from hubnet.lab.check import run_check
    from hubnet.lab.status import load

    with _errors():
        report = run_check(load(name))
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_matrix(_console(), report)
    if not report.ok:
        raise typer.Exit(1)


@lab.command()
def mode(
    to: Annotated[str, typer.Argument(help="hub or direct")],
    name: Name = "lab",
) -> None:
    """Switch a running plain lab between hub and direct mode: restart its controller with the other HUBNET_MODE and
    wait until every node's routes are those of the mode (docs/routing.md, Switching modes)."""
    from rich.markup import escape

    from hubnet.lab import lifecycle

    console = _console()
    with _errors():
        lifecycle.switch_mode(name, to, progress=lambda msg: console.print(f"[green]✓[/] {escape(msg)}"))


@lab.command()
def down(name: Name = "lab") -> None:
    """Remove the lab: processes, namespaces (with their links), state directory. Idempotent."""
    from hubnet.lab import lifecycle

    with _errors():
        report = lifecycle.down(name)
    typer.echo(
        f"lab {name!r} down: {len(report.processes)} processes stopped, {len(report.namespaces)} namespaces removed"
    )


def _print_table(console: Console, data: dict[str, Any]) -> None:
    """One row per pod (the node's columns on its first row); large labs list pod counts only."""
    from rich.markup import escape
    from rich.table import Table

    where = data.get("bgp", {}).get("controller_netns", data["router"]["netns"])
    title = f"lab {data['name']} · controller {data['controller']['url']} in {where}"
    if "controllers" in data:
        title = f"lab {data['name']} · router address {', '.join(data['router']['addresses'])}"
    table = Table(title=escape(title))
    for column in ("node", "address", "subnet", "route", "pod", "pod address"):
        table.add_column(column)
    per_pod = sum(len(n["pods"]) for n in data["nodes"]) <= TABLE_MAX_PODS
    for node in data["nodes"]:
        route = node.get("route_state", "unknown")
        addresses = "\n".join(node.get("addresses") or [node["address"]])
        subnets = "\n".join(node.get("subnets") or [node["subnet"] or "-"])
        head = [node["name"], addresses, subnets, _route(route)]
        if not per_pod or not node["pods"]:
            table.add_row(*head, f"{len(node['pods'])} pods", "")
            continue
        for i, pod in enumerate(node["pods"]):
            ips = "\n".join(pod.get("ips") or [pod["ip"] or "-"])
            table.add_row(*(head if i == 0 else [""] * 4), pod["name"], ips, end_section=False)
        table.add_section()
    console.print(table)
    if "bgp" in data:
        _print_sessions(console, data)
    if "routers" in data:
        _print_ha(console, data)


def _print_ha(console: Console, data: dict[str, Any]) -> None:
    """The HA lab: each router's VRRP state and route count, each controller's health, the database."""
    from rich.markup import escape
    from rich.table import Table

    master = data["vrrp"].get("master") or "none"
    routers = Table(title=f"routers · VRRP master: {master} · routes: the router agent's (proto 44) in its kernel")
    for column in ("router", "address", "VRRP", "keepalived", "agent", "routes"):
        routers.add_column(column)
    for r in data["routers"]:
        state = f"[green]{r['vrrp']}[/]" if r["vrrp"] == "master" else r["vrrp"]
        running = ["[green]running[/]" if r[k] else "[red]stopped[/]" for k in ("keepalived", "agent")]
        routes = "-" if r["routes"] is None else str(r["routes"])
        routers.add_row(r["name"], "\n".join(r["addresses"]), state, *running, routes)
    console.print(routers)
    controllers = Table(title=escape(f"controllers · database {data['database']['url']}"))
    for column in ("controller", "url", "health"):
        controllers.add_column(column)
    for c in data["controllers"]:
        health = f"[green]{c['health']}[/]" if c["health"] == "ok" else f"[red]{escape(c['health'])}[/]"
        controllers.add_row(c["name"], c["url"], health)
    console.print(controllers)


def _print_sessions(console: Console, data: dict[str, Any]) -> None:
    """The router daemon's BGP sessions: neighbour, state, routes received."""
    from rich.markup import escape
    from rich.table import Table

    kind = data["bgp"].get("router", "?")
    table = Table(title=f"BGP sessions of the {kind} router in {data['router']['netns']}")
    for column in ("neighbor", "state", "routes received"):
        table.add_column(column)
    for s in data["bgp"].get("sessions", []):
        state = f"[green]{s['state']}[/]" if s["state"] == "established" else f"[red]{s['state']}[/]"
        table.add_row(s["neighbor"], state, str(s["prefixes_received"]))
    console.print(table)
    if data["bgp"].get("error"):
        console.print(f"[red]{escape(data['bgp']['error'])}[/]")


TABLE_MAX_PODS = 48


def _route(state: str) -> str:
    return f"[green]{state}[/]" if state == "programmed" else f"[red]{state}[/]"


def _print_matrix(console: Console, report: CheckReport) -> None:

    console.print(_pod_matrix(report) if len(report.pods) <= MATRIX_MAX_PODS else _node_matrix(report))
    for pair in (p for p in report.pairs if not p.ok):
        console.print(f"[red]✗ IPv{pair.family} {pair.source} → {pair.target}: {pair.error}[/] (seen {pair.seen})")
    for reach in report.reach:
        mark = "[green]✓[/]" if reach.ok else "[red]✗[/]"
        if not reach.ok:
            console.print(f"{mark} IPv{reach.family} {reach.pod} → {reach.target} {reach.address}")
    data = report.to_json()
    verdict = "[green]OK[/]" if report.ok else "[red]FAILED[/]"
    per_family = "; ".join(
        f"IPv{f} {d['pairs_ok']}/{d['pairs_total']} pairs, {d['pairs_translated']} translated"
        for f, d in data["families"].items()
    )
    console.print(
        f"{verdict}: {data['pairs_ok']}/{data['pairs_total']} pairs ({per_family}), "
        f"{data['reach_ok']}/{data['reach_total']} gateway/router probes, "
        f"{data['router_forwarded'] if data['router_forwarded'] is not None else '?'} datagrams forwarded by the "
        f"router ({data['mode']} mode{': must be 0' if data['mode'] == 'direct' else ''})"
    )


MATRIX_MAX_PODS = 24  # beyond this a pod-by-pod matrix does not fit a terminal: show node-by-node counts


def _pod_matrix(report: CheckReport) -> Table:
    from rich.table import Table

    names = [p.name for p in report.pods]
    families = sorted({p.family for p in report.pairs})
    result = {(p.source, p.target, p.family): p for p in report.pairs}
    shown = " · ".join(f"IPv{f}" for f in families)
    table = Table(title=f"TCP from row to column, {shown} (✓ = connected, receiver saw the sender's own IP)")
    table.add_column("from \\ to")
    for name in names:
        table.add_column(name, justify="center")
    for src in names:
        cells = []
        for dst in names:
            marks = []
            for family in families:
                pair = result.get((src, dst, family))
                marks.append("·" if pair is None else "[green]✓[/]" if pair.ok else "[red]✗[/]")
            cells.append("".join(marks))
        table.add_row(src, *cells)
    return table


def _node_matrix(report: CheckReport) -> Table:
    from rich.table import Table

    node_of = {p.name: p.node for p in report.pods}
    nodes = sorted(set(node_of.values()), key=lambda n: (len(n), n))
    counts: dict[tuple[str, str], list[int]] = {}
    for pair in report.pairs:
        cell = counts.setdefault((node_of[pair.source], node_of[pair.target]), [0, 0])
        cell[0] += pair.ok
        cell[1] += 1
    table = Table(title="pod pairs ok/total from the pods of row to the pods of column (TCP, no NAT, every family)")
    table.add_column("from \\ to")
    for node in nodes:
        table.add_column(node, justify="center")
    for src in nodes:
        cells = []
        for dst in nodes:
            ok, total = counts.get((src, dst), [0, 0])
            colour = "green" if ok == total else "red"
            cells.append(f"[{colour}]{ok}/{total}[/]")
        table.add_row(src, *cells)
    return table
