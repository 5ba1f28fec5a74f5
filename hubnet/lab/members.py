"""Start the lab's members through the real CLI: the controller (or the HA lab's replicas and router agents), one
agent per node; attach pods through the CNI plugin binary the agent installed.

Each runs the same `hubnet` that a user would run on a real router or node, only inside a lab namespace; the lab
itself plays each node's container runtime (the kubelet's part), executing the plugin once per ADD.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from hubnet.lab import procs
from hubnet.lab.errors import LabError
from hubnet.lab.plan import (
    BGP_ASN,
    CONTROLLER_ADDRESS,
    NODE_PREFIX,
    NODE_PREFIX_V6,
    POD_BRIDGE,
    UNDERLAY,
    UNDERLAY6,
    LabPlan,
    MemberPlan,
    NodePlan,
    PodPlan,
)
from hubnet.lab.state import LabState, PodState, StateStore
from hubnet.linux import labnet
from hubnet.linux.netns import path_of
from hubnet.net import by_family
from hubnet.node.cnilib.skel import TRY_AGAIN_LATER  # the node is not ready yet (route not programmed)
from hubnet.node.runtime import PluginError, Runtime

POD_ADD_TIMEOUT = 60.0
# HA lab: the reaper (which also marks silent router agents down) runs every 2 s instead of 5, so a dead router
# stops counting for new nodes' readiness soon after HUBNET_ROUTER_DOWN_SECONDS.
HA_REAPER_INTERVAL = "2"


def hubnet_argv() -> list[str]:
    """The `hubnet` command of this installation (the venv's console script, else the one on PATH)."""
    local = Path(sys.executable).with_name("hubnet")
    if local.exists():
        return [str(local)]
    found = shutil.which("hubnet")
    if found:
        return [found]
    return [sys.executable, "-c", "from hubnet.cli import main; main()"]


def controller_env(
    plan: LabPlan, store: StateStore, state: LabState, member: MemberPlan | None = None
) -> dict[str, str]:
    """The controller's settings: kernel backend on the router, or (BGP lab) the bgp backend listening for BGP on
    its own underlay address, SQLite in the lab's state dir either way; or (HA lab, `member` the replica) no route
    backend (the router agents program the routers) and the lab's PostgreSQL."""
    if member is not None:
        return ha_controller_env(plan, store, state, member)
    env = {
        "HUBNET_LISTEN": plan.controller_url.removeprefix("http://"),
        "HUBNET_ROUTE_BACKEND": "bgp" if plan.bgp else "kernel",
        "HUBNET_ROUTER_ADDRESS": ",".join(str(a) for a in plan.router_addresses),
        "HUBNET_CLUSTER_CIDR": ",".join(str(c) for c in plan.cluster_cidrs),
        "HUBNET_NODE_PREFIX": str(NODE_PREFIX),
        "HUBNET_NODE_PREFIX_V6": str(NODE_PREFIX_V6),
        "HUBNET_STATE_DIR": str(store.dir / "controller"),
        "HUBNET_DATABASE_URL": f"sqlite:///{store.dir / 'controller' / 'hubnet.db'}",
        "HUBNET_BOOTSTRAP_TOKENS": state.bootstrap_token,
        "HUBNET_ADMIN_TOKENS": state.admin_token,
    }
    if state.mode == "direct":  # docs/routing.md, Direct mode: the nodes route to each other on the one underlay
        env["HUBNET_MODE"] = "direct"
        env["HUBNET_DIRECT_UNDERLAY"] = ",".join(str(u) for u in (UNDERLAY, UNDERLAY6))
    if plan.bgp:
        env |= {
            "HUBNET_BGP_LISTEN": plan.bgp_listen,
            "HUBNET_BGP_ROUTER_ID": str(CONTROLLER_ADDRESS),  # an IPv4 id even in an IPv6-only lab
            "HUBNET_BGP_ASN": str(BGP_ASN),
        }
    return env


def ha_controller_env(plan: LabPlan, store: StateStore, state: LabState, member: MemberPlan) -> dict[str, str]:
    """An HA lab replica: listening on its own address, on the lab's PostgreSQL, without a route backend."""
    return {
        "HUBNET_LISTEN": member.url.removeprefix("http://"),
        "HUBNET_ROUTE_BACKEND": "none",
        "HUBNET_ROUTER_ADDRESS": ",".join(str(a) for a in plan.router_addresses),  # the VRRP address
        "HUBNET_CLUSTER_CIDR": ",".join(str(c) for c in plan.cluster_cidrs),
        "HUBNET_NODE_PREFIX": str(NODE_PREFIX),
        "HUBNET_NODE_PREFIX_V6": str(NODE_PREFIX_V6),
        "HUBNET_STATE_DIR": str(store.dir / "controllers" / member.name),
        "HUBNET_DATABASE_URL": plan.db_url,
        "HUBNET_BOOTSTRAP_TOKENS": state.bootstrap_token,
        "HUBNET_ADMIN_TOKENS": state.admin_token,
        "HUBNET_REAPER_INTERVAL_SECONDS": HA_REAPER_INTERVAL,
    }


def start_controller(plan: LabPlan, store: StateStore, state: LabState, member: MemberPlan | None = None) -> int:
    """The controller in its namespace (the router's, or its own in a BGP lab), or HA replica `member` in its
    own, detached; its pid."""
    env = controller_env(plan, store, state, member)
    Path(env["HUBNET_STATE_DIR"]).mkdir(parents=True, exist_ok=True)
    process = "controller" if member is None else f"controller-{member.name}"
    netns = plan.controller_netns if member is None else member.netns
    pid = procs.spawn(netns, [*hubnet_argv(), "server"], store.log(process), env)
    state.processes[process] = pid
    store.save(state)
    return pid


def controller_options(plan: LabPlan) -> list[str]:
    """`--controller URL` for every controller of the lab (an agent fails over between them in this order)."""
    return [option for url in plan.controller_urls for option in ("--controller", url)]


def router_agent_argv(plan: LabPlan, router: MemberPlan, store: StateStore, state: LabState) -> list[str]:
    """`hubnet router join` of HA lab router `router`, with every controller's URL."""
    return [
        *hubnet_argv(),
        "router",
        "join",
        *controller_options(plan),
        "--token",
        state.bootstrap_token,
        "--name",
        router.name,
        "--state-dir",
        str(store.dir / "routers" / router.name / "agent"),
    ]


def start_router_agent(plan: LabPlan, router: MemberPlan, store: StateStore, state: LabState) -> int:
    """The router agent inside HA router namespace `router` (it programs that namespace's kernel table); its pid."""
    process = f"agent-{router.name}"
    pid = procs.spawn(router.netns, router_agent_argv(plan, router, store, state), store.log(process))
    state.processes[process] = pid
    store.save(state)
    return pid


def node_paths(store: StateStore, node: NodePlan) -> tuple[str, str, str]:
    """The node's --state-dir, --cni-conf-dir and --cni-bin-dir."""
    base = store.node_dir(node.name)
    return str(base / "state"), str(base / "cni" / "conf"), str(base / "cni" / "bin")


def node_dirs(store: StateStore, node: NodePlan) -> list[str]:
    state_dir, conf_dir, bin_dir = node_paths(store, node)
    return ["--state-dir", state_dir, "--cni-conf-dir", conf_dir, "--cni-bin-dir", bin_dir]


def agent_argv(plan: LabPlan, node: NodePlan, store: StateStore, state: LabState) -> list[str]:
    """`hubnet node join` of `node`, with every controller's URL and the router address (the VRRP one in an HA
    lab)."""
    return [
        *hubnet_argv(),
        "node",
        "join",
        *controller_options(plan),
        "--token",
        state.bootstrap_token,
        "--name",
        node.name,
        "--address",
        ",".join(str(a) for a in node.addresses),
        "--router",
        ",".join(str(a) for a in plan.router_addresses),
        "--bridge",
        POD_BRIDGE,
        *node_dirs(store, node),
    ]


def start_agent(plan: LabPlan, node: NodePlan, store: StateStore, state: LabState) -> int:
    """`hubnet node join` inside the node namespace (foreground process, detached from us)."""
    pid = procs.spawn(node.netns, agent_argv(plan, node, store, state), store.log(f"agent-{node.name}"))
    state.processes[f"agent-{node.name}"] = pid
    store.save(state)
    return pid


def wait_agent_ready(node: NodePlan, store: StateStore, pid: int, timeout: float) -> None:
    """Wait for the agent's readiness signal: it writes the CNI config only once its route is programmed."""
    conf = store.node_dir(node.name) / "cni" / "conf"
    deadline = time.monotonic() + timeout
    while not any(conf.glob("*.conflist")):
        if not procs.alive(pid):
            raise LabError(f"the agent of {node.name} exited; log {store.log(f'agent-{node.name}')}")
        if time.monotonic() > deadline:
            raise LabError(f"the agent of {node.name} wrote no CNI config within {timeout:.0f}s (not ready)")
        time.sleep(0.05)


def restart_agent(plan: LabPlan, node: NodePlan, store: StateStore, state: LabState) -> int:
    """Stop the node's agent (SIGTERM leaves its network in place) and start it again; the new pid."""
    old = state.processes.get(f"agent-{node.name}")
    if old:
        procs.stop([old])
    return start_agent(plan, node, store, state)


def node_runtime(store: StateStore, node: NodePlan) -> Runtime:
    """The node's container runtime, the one `hubnet node pod add` runs on the node's directories: the agent's
    conflist and plugin binary, the CNI cache in its state dir; the plugin executed inside the node namespace, where
    the node's kubelet would run it."""
    state_dir, conf_dir, bin_dir = node_paths(store, node)
    return Runtime(state_dir, conf_dir, bin_dir, launcher=("ip", "netns", "exec", node.netns))


def attach_pod(node: NodePlan, pod: PodPlan, store: StateStore, state: LabState) -> PodState:
    """Create the pod's namespace and run ADD through the node's CNI plugin binary (retrying while the node answers
    'try again later'); the pod with the address observed inside its namespace.

    The lab plays each node's runtime in this process, as a kubelet does on its node: one plugin execution per
    ADD and no `hubnet node pod add` process (a Python start-up per pod) around it."""
    labnet.create_netns(pod.netns)
    record = PodState(name=pod.name, netns=pod.netns)
    with store.lock:
        state.pods_of(node.name).append(record)
    store.save(state)
    try:
        add_retrying(node_runtime(store, node), pod.name, path_of(pod.netns), POD_ADD_TIMEOUT)
    except (PluginError, OSError, ValueError, subprocess.TimeoutExpired) as exc:  # ValueError: bad JSON, conflist
        raise LabError(f"pod {pod.name} on {node.name}: ADD through the CNI plugin failed: {exc}") from exc
    record.ips = _pod_ips(pod.netns)
    record.ip = record.ips[0]
    store.save(state)
    return record


def add_retrying(runtime: Runtime, name: str, netns: str, timeout: float, interval: float = 0.3) -> None:
    """ADD `name` in `netns`, again every `interval` while the plugin answers CNI code 11 (the node is not ready)
    for up to `timeout`; any other PluginError is final and raised, as is code 11 past the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            runtime.add(name, netns)
            return
        except PluginError as exc:
            if exc.code != TRY_AGAIN_LATER or time.monotonic() > deadline:
                raise
        time.sleep(interval)


def _pod_ips(netns: str) -> list[str]:
    """The pod's addresses as its namespace shows them, IPv4 first (no IPv6 link-local)."""
    addresses = by_family(a for items in labnet.global_addresses(netns).values() for a in items)
    if not addresses:
        raise LabError(f"pod namespace {netns} has no address after `pod add`")
    return addresses
