"""Start the lab's members through the real CLI: the controller (or the HA lab's replicas and router agents), one
agent per node, pods via the CNI plugin.

Each runs the same `hubnet` that a user would run on a real router or node, only inside a lab namespace.
"""

from __future__ import annotations

import json
import shutil
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

POD_ADD_TIMEOUT = 60.0
TRY_AGAIN_LATER = 11  # CNI error code: the node is not ready yet (route not programmed)
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


def node_dirs(store: StateStore, node: NodePlan) -> list[str]:
    base = store.node_dir(node.name)
    return [
        "--state-dir",
        str(base / "state"),
        "--cni-conf-dir",
        str(base / "cni" / "conf"),
        "--cni-bin-dir",
        str(base / "cni" / "bin"),
    ]


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


def attach_pod(node: NodePlan, pod: PodPlan, store: StateStore, state: LabState) -> PodState:
    """Create the pod's namespace and attach it with `hubnet node pod add` (retrying while the node answers
    'try again later'); the pod with the address observed inside its namespace."""
    labnet.create_netns(pod.netns)
    record = PodState(name=pod.name, netns=pod.netns)
    with store.lock:
        state.pods_of(node.name).append(record)
    store.save(state)
    argv = [*hubnet_argv(), "node", "pod", "add", pod.name, "--netns", path_of(pod.netns)]
    deadline = time.monotonic() + POD_ADD_TIMEOUT
    while True:
        code, out = procs.run(node.netns, [*argv, *node_dirs(store, node)], timeout=POD_ADD_TIMEOUT)
        if code == 0:
            break
        if not _try_again(out) or time.monotonic() > deadline:
            raise LabError(f"pod {pod.name} on {node.name}: `hubnet node pod add` failed (exit {code}): {out[-500:]}")
        time.sleep(0.3)
    record.ips = _pod_ips(pod.netns)
    record.ip = record.ips[0]
    store.save(state)
    return record


def _try_again(output: str) -> bool:
    """True when the CNI error in `output` is code 11 (try again later)."""
    for line in reversed(output.splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        return isinstance(data, dict) and data.get("code") == TRY_AGAIN_LATER
    try:
        data = json.loads(output)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("code") == TRY_AGAIN_LATER


def _pod_ips(netns: str) -> list[str]:
    """The pod's addresses as its namespace shows them, IPv4 first (no IPv6 link-local)."""
    addresses = by_family(a for items in labnet.global_addresses(netns).values() for a in items)
    if not addresses:
        raise LabError(f"pod namespace {netns} has no address after `pod add`")
    return addresses
