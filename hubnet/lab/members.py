"""Start the lab's members through the real CLI: the controller, one agent per node, pods via the CNI plugin.

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
    LabPlan,
    NodePlan,
    PodPlan,
)
from hubnet.lab.state import LabState, PodState, StateStore
from hubnet.linux import labnet
from hubnet.linux.netns import path_of
from hubnet.net import by_family

POD_ADD_TIMEOUT = 60.0
TRY_AGAIN_LATER = 11  # CNI error code: the node is not ready yet (route not programmed)


def hubnet_argv() -> list[str]:
    """The `hubnet` command of this installation (the venv's console script, else the one on PATH)."""
    local = Path(sys.executable).with_name("hubnet")
    if local.exists():
        return [str(local)]
    found = shutil.which("hubnet")
    if found:
        return [found]
    return [sys.executable, "-c", "from hubnet.cli import main; main()"]


def controller_env(plan: LabPlan, store: StateStore, state: LabState) -> dict[str, str]:
    """The controller's settings: kernel backend on the router, or (BGP lab) the bgp backend listening for BGP on
    its own underlay address; SQLite in the lab's state dir either way."""
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
    if plan.bgp:
        env |= {
            "HUBNET_BGP_LISTEN": plan.bgp_listen,
            "HUBNET_BGP_ROUTER_ID": str(CONTROLLER_ADDRESS),  # an IPv4 id even in an IPv6-only lab
            "HUBNET_BGP_ASN": str(BGP_ASN),
        }
    return env


def start_controller(plan: LabPlan, store: StateStore, state: LabState) -> int:
    """The controller in its namespace (the router's, or its own in a BGP lab), detached; its pid."""
    env = controller_env(plan, store, state)
    (store.dir / "controller").mkdir(exist_ok=True)
    pid = procs.spawn(plan.controller_netns, [*hubnet_argv(), "server"], store.log("controller"), env)
    state.processes["controller"] = pid
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


def start_agent(plan: LabPlan, node: NodePlan, store: StateStore, state: LabState) -> int:
    """`hubnet node join` inside the node namespace (foreground process, detached from us)."""
    argv = [
        *hubnet_argv(),
        "node",
        "join",
        "--controller",
        plan.controller_url,
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
    pid = procs.spawn(node.netns, argv, store.log(f"agent-{node.name}"))
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
