"""`hubnet router …`: the router agent, which programs the kernel table of the network namespace it runs in from the
controllers' desired-route feed (docs/ha.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from hubnet.cli.controllers import ControllerOpt, check_ca, controller_list

router_app = typer.Typer(help="Router agent: program this router's routes from the controllers.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(router_app, name="router")


@router_app.command()
def join(
    controller: ControllerOpt = None,
    token: Annotated[str, typer.Option(help="Bootstrap token (joining only).", envvar="HUBNET_BOOTSTRAP_TOKEN")] = "",
    name: Annotated[str, typer.Option(help="Router name (DNS-1123 label), unique in the cluster.")] = "",
    state_dir: Annotated[
        str, typer.Option("--state-dir", help="Where router-<name>.json (the router's secret, 0600) is kept.")
    ] = "/var/lib/hubnet",
    route_proto: Annotated[
        int, typer.Option("--route-proto", help="Protocol number marking our routes (the controllers').")
    ] = 44,
    route_table: Annotated[int, typer.Option("--route-table", help="Table our routes live in.")] = 254,
    ca_file: Annotated[
        str, typer.Option("--ca-file", help="PEM CA the controllers' https:// certificates must chain to.")
    ] = "",
    interval: Annotated[float, typer.Option(help="Seconds between periodic reconciles (drift repair).")] = 10.0,
    report_interval: Annotated[
        float, typer.Option("--report-interval", help="Seconds between reports at most (the router's heartbeat).")
    ] = 2.0,
) -> None:
    """Run the router agent in the foreground, programming this network namespace (`ip netns exec R hubnet router
    join …` programs R). SIGTERM stops it and leaves the routes in place."""
    import logging
    import signal
    import threading

    from hubnet.router.config import join_config

    controllers = controller_list(controller)
    check_ca(controllers, ca_file)
    try:
        config = join_config(
            controllers=controllers,
            token=token,
            name=name,
            state_dir=state_dir,
            route_proto=route_proto,
            route_table=route_table,
            ca_file=ca_file,
            interval=interval,
            report_interval=report_interval,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per long-poll and per report says nothing
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    from hubnet.linux.errors import LinuxError
    from hubnet.node.agent.secret import SecretError
    from hubnet.node.agent.server import AlreadyRunning
    from hubnet.router.agent import RouterAgent

    try:
        RouterAgent(config).run(stop)
    except (SecretError, AlreadyRunning, LinuxError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
