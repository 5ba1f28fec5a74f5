"""`hubnet node …`: the node agent (join / leave) and a cnitool-like runtime stand-in (`pod add|del|check|list`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from hubnet.cli.controllers import ControllerOpt, check_ca, controller_list

node_app = typer.Typer(help="Node agent: join the cluster, attach pods through the CNI plugin.", no_args_is_help=True)
pod_app = typer.Typer(help="Play the container runtime: run the CNI plugin like cnitool does.", no_args_is_help=True)
node_app.add_typer(pod_app, name="pod")

StateDir = Annotated[str, typer.Option("--state-dir", help="Agent state: secret, IPAM store, socket, CNI cache.")]
ConfDir = Annotated[str, typer.Option("--cni-conf-dir", help="Where the agent writes 10-hubnet.conflist.")]
BinDir = Annotated[str, typer.Option("--cni-bin-dir", help="Where the agent installs the plugin `hubnet`.")]
CaFile = Annotated[
    str,
    typer.Option(
        "--ca-file", help="PEM CA the controller's https:// certificate must chain to (default: system trust store)."
    ),
]
DEFAULT_STATE, DEFAULT_CONF, DEFAULT_BIN = "/var/lib/hubnet", "/etc/cni/net.d", "/opt/cni/bin"


def register(app: typer.Typer) -> None:
    app.add_typer(node_app, name="node")


@node_app.command()
def join(
    controller: ControllerOpt = None,
    token: Annotated[str, typer.Option(help="Bootstrap token.", envvar="HUBNET_BOOTSTRAP_TOKEN")] = "",
    name: Annotated[str, typer.Option(help="Node name (DNS-1123 label).")] = "",
    address: Annotated[
        str,
        typer.Option(
            help="The node's underlay address(es), at most one per family, comma-separated: 192.168.1.11 or "
            "192.168.1.11,fd00:1::11 (dual-stack: a subnet of each family the cluster has a pool of)."
        ),
    ] = "",
    router: Annotated[
        str,
        typer.Option(help="Router address(es), one per family, comma-separated (default: the controller's answer)."),
    ] = "",
    bridge: Annotated[str, typer.Option(help="Bridge name.")] = "v-net-0",
    state_dir: StateDir = DEFAULT_STATE,
    cni_conf_dir: ConfDir = DEFAULT_CONF,
    cni_bin_dir: BinDir = DEFAULT_BIN,
    ca_file: CaFile = "",
    cni_chain: Annotated[
        str,
        typer.Option(
            "--cni-chain",
            help="Plugins chained after hubnet in the conflist when they are in --cni-bin-dir: portmap (hostPort), "
            "bandwidth (traffic shaping), comma-separated in order, or none.",
        ),
    ] = "portmap,bandwidth",
    fixed_subnet: Annotated[
        str,
        typer.Option(hidden=True, help="Test seam: no controller, these subnets (one per family, comma-separated)."),
    ] = "",
    cluster_cidr: Annotated[list[str] | None, typer.Option(hidden=True, help="With --fixed-subnet.")] = None,
) -> None:
    """Run the node agent in the foreground (SIGTERM stops it and leaves the node network in place)."""
    import logging
    import signal
    import threading

    from hubnet.node.agent.agent import Agent
    from hubnet.node.agent.config import join_config, save

    controllers = controller_list(controller)
    if not fixed_subnet and not (controllers and token and name and address):
        raise typer.BadParameter("--controller (or $HUBNET_CONTROLLERS), --token, --name and --address are required")
    check_ca(controllers, ca_file)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = join_config(
            controller=controllers,
            token=token,
            name=name,
            address=address,
            router=router,
            bridge=bridge,
            state_dir=state_dir,
            cni_conf_dir=cni_conf_dir,
            cni_bin_dir=cni_bin_dir,
            ca_file=ca_file,
            fixed_subnet=fixed_subnet,
            cluster_cidrs=cluster_cidr or (),
            cni_chain=cni_chain,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    save(config)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    from hubnet.node.agent.secret import SecretError
    from hubnet.node.agent.server import AlreadyRunning
    from hubnet.router.direct import DirectRoutes  # direct mode's peer routes (the router agent's parts)

    try:
        Agent(config, peers=DirectRoutes.factory(config.controller_urls, config.ca_file)).run(stop)
    except (SecretError, AlreadyRunning) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@node_app.command()
def leave(
    state_dir: StateDir = DEFAULT_STATE,
    ca_file: Annotated[
        str, typer.Option("--ca-file", help="Override the CA file `join` was given (see join --ca-file).")
    ] = "",
    force: Annotated[
        bool, typer.Option("--force", help="Tear down even when the controller cannot be reached or refuses.")
    ] = False,
) -> None:
    """Deregister from the controller and tear the node network down (bridge, routes, masquerade, conflist).

    A record the controller no longer has counts as deregistered. Refused (nothing changed) while the agent runs:
    stop it first."""
    from hubnet.node.agent.agent import Agent
    from hubnet.node.agent.config import SAVED, load_saved

    try:
        config = load_saved(state_dir, ca_file)
    except FileNotFoundError:
        raise typer.BadParameter(f"no {SAVED} in {state_dir!r}: this node never joined") from None
    check_ca(",".join(config.controller_urls), config.ca_file or "")
    from hubnet.node.agent.client import ControllerError
    from hubnet.node.agent.secret import SecretError
    from hubnet.node.agent.server import AlreadyRunning

    try:
        outcome = Agent(config).leave(force=force)
    except AlreadyRunning as exc:
        hint = "stop the agent first (SIGTERM leaves the node network in place), then run leave again"
        typer.echo(f"error: cannot leave: {exc}; {hint}; nothing was changed", err=True)
        raise typer.Exit(1) from None
    except (ControllerError, SecretError) as exc:
        hint = "nothing was torn down; --force tears down anyway"
        typer.echo(f"error: could not deregister {config.name}: {exc} ({hint})", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"node {config.name} left: {outcome}")


NetnsOpt = Annotated[str | None, typer.Option("--netns", help="Pod netns path or name (default: create one).")]
IfnameOpt = Annotated[str, typer.Option("--ifname")]
PrefixOpt = Annotated[str, typer.Option("--netns-prefix", help="Prefix of netns this command creates.")]


@dataclass(frozen=True)
class PodTarget:
    """The options of `pod add` and `pod del`: the attachment's netns and interface, the node's directories."""

    netns: str | None
    ifname: str
    netns_prefix: str
    state_dir: str
    conf_dir: str
    bin_dir: str

    def runtime(self) -> Any:
        return _runtime(self.state_dir, self.conf_dir, self.bin_dir)


def _with_pod_options(handler: Callable[[str, PodTarget], None]) -> Callable[..., None]:
    """`handler` as a command taking NAME and the options of `pod add|del`, defined once here."""

    def command(
        name: str,
        netns: NetnsOpt = None,
        ifname: IfnameOpt = "eth0",
        netns_prefix: PrefixOpt = "hnpod-",
        state_dir: StateDir = DEFAULT_STATE,
        cni_conf_dir: ConfDir = DEFAULT_CONF,
        cni_bin_dir: BinDir = DEFAULT_BIN,
    ) -> None:
        handler(name, PodTarget(netns, ifname, netns_prefix, state_dir, cni_conf_dir, cni_bin_dir))

    command.__doc__ = handler.__doc__  # the help text; not functools.wraps: typer must see this signature
    return command


PublishOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--publish",
        "-p",
        help="HOSTPORT:CONTAINERPORT or HOSTPORT:CONTAINERPORT/PROTO (tcp, udp, sctp), repeatable: the portMappings "
        "runtime config (chained portmap).",
    ),
]
RateOpt = Annotated[int, typer.Option(min=0, help="Bits per second (the bandwidth runtime config; 0: no limit).")]
BurstOpt = Annotated[int, typer.Option(min=0, help="Bits (default with a rate: 2147483647, as the kubelet sets).")]
KUBELET_BURST = 2**31 - 1  # the kubelet's burst for a pod's bandwidth annotations: no burst limit


@pod_app.command("add")
def pod_add(
    name: str,
    netns: NetnsOpt = None,
    ifname: IfnameOpt = "eth0",
    netns_prefix: PrefixOpt = "hnpod-",
    state_dir: StateDir = DEFAULT_STATE,
    cni_conf_dir: ConfDir = DEFAULT_CONF,
    cni_bin_dir: BinDir = DEFAULT_BIN,
    publish: PublishOpt = None,
    ingress_rate: RateOpt = 0,
    ingress_burst: BurstOpt = 0,
    egress_rate: RateOpt = 0,
    egress_burst: BurstOpt = 0,
) -> None:
    """Create the pod netns (unless --netns), run ADD through the chain, keep the result; prints the result JSON."""
    from hubnet.linux import netns as ns

    capability_args = _capability_args(publish or [], ingress_rate, ingress_burst, egress_rate, egress_burst)
    pod = PodTarget(netns, ifname, netns_prefix, state_dir, cni_conf_dir, cni_bin_dir)
    rt = pod.runtime()
    created = None
    if pod.netns is None:
        created = f"{pod.netns_prefix}{name}"
        path = ns.create(created)
    else:
        path = ns.path_of(pod.netns)
    try:
        result = _cni(
            lambda: rt.add(name, path, pod.ifname, created, capability_args or None),
            hints={8: EXEC_HINT} if created else None,
        )
    except typer.Exit:
        if created:
            ns.remove(created)
        raise
    typer.echo(json.dumps(result, indent=2))


def _capability_args(
    publish: list[str], ingress: int, ingress_burst: int, egress: int, egress_burst: int
) -> dict[str, Any]:
    """libcni's capability arguments: `portMappings` (as the CRI passes a pod's hostPorts) and `bandwidth`."""
    args: dict[str, Any] = {}
    mappings = []
    for spec in publish:
        ports, _, proto = spec.partition("/")
        host, sep, container = ports.partition(":")
        if not sep or not host.isdigit() or not container.isdigit() or proto not in ("", "tcp", "udp", "sctp"):
            raise typer.BadParameter(
                f"--publish {spec!r}: expected HOSTPORT:CONTAINERPORT or HOSTPORT:CONTAINERPORT/PROTO (tcp, udp, sctp)"
            )
        mappings.append({"hostPort": int(host), "containerPort": int(container), "protocol": proto or "tcp"})
    if mappings:
        args["portMappings"] = mappings
    bandwidth: dict[str, int] = {}
    for key, rate, burst in (("ingress", ingress, ingress_burst), ("egress", egress, egress_burst)):
        if rate:
            bandwidth[f"{key}Rate"] = rate
            bandwidth[f"{key}Burst"] = burst or KUBELET_BURST
    if bandwidth:
        args["bandwidth"] = bandwidth
    return args


@pod_app.command("del")
@_with_pod_options
def pod_del(name: str, pod: PodTarget) -> None:
    """Run DEL (with the cached result as prevResult) and remove the netns `pod add` created (whatever its prefix).

    Without --netns the attachment must be in the runtime cache."""
    from hubnet.linux import netns as ns
    from hubnet.node.runtime import CREATED_NETNS

    rt = pod.runtime()
    entry = _known(rt, name, pod.netns, pod.ifname)
    used = _cni(lambda: rt.delete(name, ns.path_of(pod.netns) if pod.netns else None, pod.ifname))
    # an entry written before `add` recorded what it created: the netns named by the prefix, as before
    created = str(entry.get(CREATED_NETNS) or "") or (f"{pod.netns_prefix}{name}" if pod.netns is None else "")
    if created and used == ns.path_of(created):
        ns.remove(created)


@pod_app.command("check")
def pod_check(
    name: str,
    netns: NetnsOpt = None,
    ifname: IfnameOpt = "eth0",
    state_dir: StateDir = DEFAULT_STATE,
    cni_conf_dir: ConfDir = DEFAULT_CONF,
    cni_bin_dir: BinDir = DEFAULT_BIN,
) -> None:
    """Run CHECK with the cached result; exit 0 when the attachment is intact."""
    from hubnet.linux import netns as ns

    rt = _runtime(state_dir, cni_conf_dir, cni_bin_dir)
    _known(rt, name, netns, ifname)
    _cni(lambda: rt.check(name, ns.path_of(netns) if netns else None, ifname))
    typer.echo(f"{name}: ok")


@pod_app.command("list")
def pod_list(
    state_dir: StateDir = DEFAULT_STATE,
    cni_conf_dir: ConfDir = DEFAULT_CONF,
    cni_bin_dir: BinDir = DEFAULT_BIN,
) -> None:
    """The attachments in the runtime's result cache: container, interface, address, netns."""
    for entry in _runtime(state_dir, cni_conf_dir, cni_bin_dir).entries():
        ips = [ip.get("address") for ip in (entry.get("result") or {}).get("ips", [])]
        typer.echo(f"{entry['containerId']}\t{entry['ifName']}\t{','.join(ips)}\t{entry.get('netns', '')}")


def _runtime(state_dir: str, conf_dir: str, bin_dir: str) -> Any:
    from hubnet.node.runtime import Runtime

    return Runtime(state_dir=state_dir, conf_dir=conf_dir, bin_dir=bin_dir)


def _known(rt: Any, name: str, netns: str | None, ifname: str) -> dict[str, Any]:
    """The attachment's cache entry; without one (and no --netns) there is nothing to run the plugin on: exit 1
    naming the attachment (the plugin would only complain that CNI_NETNS is missing)."""
    entry: dict[str, Any] | None = _cni(lambda: rt.cached(name, ifname))
    if entry is None and netns is None:
        hint = "`hubnet node pod list` shows the attachments (another --ifname or --state-dir?)"
        typer.echo(f"error: no attachment {name}/{ifname} in {rt.state_dir!r}; {hint}", err=True)
        raise typer.Exit(1)
    return entry or {}


EXEC_HINT = (
    "hint: the pod netns this command created is a bind mount in its own mount namespace, which the node agent "
    "cannot see: `ip netns exec` gives the command a mount namespace of its own. Run it as `nsenter "
    "--net=/var/run/netns/<node> hubnet node pod add …` instead, or pass --netns a namespace created outside."
)


def _cni(call: Any, hints: dict[int, str] | None = None) -> Any:
    """Run a runtime call; a plugin error becomes its JSON on stderr (and a hint for the codes in `hints`) and exit
    status 1."""
    from hubnet.node.runtime import PluginError

    try:
        return call()
    except PluginError as exc:
        typer.echo(json.dumps({"code": exc.code, "msg": exc.msg, "details": exc.details}), err=True)
        if hints and exc.code in hints:
            typer.echo(hints[exc.code], err=True)
        raise typer.Exit(1) from None
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
