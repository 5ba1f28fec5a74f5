"""`up` and `down`: the lab's two verbs with side effects, each a short list of named steps.

`up` records every step in the state file before moving on, and `down` finds what to remove from both the
state file and the `hnlab-<name>-` name prefix, so it also cleans up after an `up` that was killed halfway.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from hubnet.lab import bgplab, ha, members, procs, topology
from hubnet.lab.bgprouter import BgpRouter
from hubnet.lab.controller import ControllerError, LabController
from hubnet.lab.errors import LabError, LabExists, require_host
from hubnet.lab.plan import (
    BGP_ASN,
    FAMILIES,
    UNDERLAY,
    UNDERLAY6,
    LabPlan,
    NodePlan,
    PlanError,
    PodPlan,
    lab_prefix,
    make_plan,
)
from hubnet.lab.routers.frr import remove_pathspace
from hubnet.lab.state import LabState, StateStore
from hubnet.linux import ROUTE_PROTO, labnet
from hubnet.linux.errors import LinuxError

Progress = Callable[[str], None]
READY_TIMEOUT = 60.0
SESSION_TIMEOUT = 60.0  # the speaker connects within ~5-10 s of its peer being added; BIRD/FRR retry every 5 s
ROUTES_TIMEOUT = 60.0
ATTACH_WORKERS = 4  # parallel ADDs, each on another node (`_attach_all`): gentle on a 2-core machine


def _quiet(_: str) -> None:
    return None


def up(
    name: str,
    nodes: int,
    pods: int,
    progress: Progress = _quiet,
    families: tuple[int, ...] = FAMILIES,
    router: str = "kernel",
    routers: int = 1,
    controllers: int = 1,
    mode: str = "hub",
) -> LabState:
    """Build lab `name` (dual-stack unless `families` says otherwise) with a router of kind `router` (kernel,
    bird, frr), or the HA lab with `routers` VRRP routers and `controllers` replicas when either is more than 1;
    raises LabExists (nothing touched) when it exists, LabError when a step fails."""
    require_host()
    plan = make_plan(name, nodes, pods, families, router, routers, controllers)
    if mode not in ("hub", "direct"):
        raise PlanError(f"--mode must be hub or direct, got {mode!r}")
    if mode == "direct" and (plan.ha or plan.bgp):
        raise PlanError("--mode direct builds the plain lab (--router kernel, one router, one controller)")
    if plan.bgp:
        bgplab.router_of(plan, StateStore(name))  # the daemon is installed: fail before anything is built
    if plan.ha:
        ha.require()
    store = StateStore(name)
    if store.exists() or labnet.list_netns(plan.prefix):
        raise LabExists(f"lab {name!r} already exists (run `hubnet lab down --name {name}` first)")
    state = LabState(
        name=name,
        nodes=nodes,
        pods=pods,
        bootstrap_token=secrets.token_urlsafe(24),
        admin_token=secrets.token_urlsafe(24),
        families=list(plan.families),
        router=router,
        routers=routers,
        controllers=controllers,
        mode=mode,
    )
    store.create(state)
    try:
        _build(plan, store, state, progress)
    except (LinuxError, ControllerError, OSError, TimeoutError) as exc:
        raise LabError(f"lab {name!r}: {exc}") from exc
    return state


def _build(plan: LabPlan, store: StateStore, state: LabState, progress: Progress) -> None:
    step = _Stepper(progress)
    if plan.ha:
        client = ha.build(plan, store, state, step)
    else:
        client, router = _build_router(plan, store, state, step)
    where = "in the router's kernel over BGP" if plan.bgp else "programmed on the router"
    if plan.ha:
        where = f"in the kernel of {' and '.join(r.name for r in plan.routers)}"
    with step(f"{len(plan.nodes)} node agents joined, routes {where}"):
        agents = {node.name: members.start_agent(plan, node, store, state) for node in plan.nodes}
        records = client.wait_routes([n.name for n in plan.nodes], ROUTES_TIMEOUT)
        state.subnets = {n: str(r["subnet"]) for n, r in records.items()}
        state.node_subnets = {n: [str(s) for s in r.get("subnets") or [r["subnet"]]] for n, r in records.items()}
        store.save(state)
        if plan.ha:  # `programmed` counts the routers that are up; every router's kernel must hold them
            ha.wait_installed(plan, state.node_subnets, ROUTES_TIMEOUT)
        elif router is not None:  # `programmed` means sent to the router; wait until its kernel holds them too
            bgplab.wait_installed(router, bgplab.expected_routes(plan, state.node_subnets), ROUTES_TIMEOUT)
        for node in plan.nodes:
            members.wait_agent_ready(node, store, agents[node.name], ROUTES_TIMEOUT)
    total = sum(len(n.pods) for n in plan.nodes)
    with step(f"{total} pods attached through the CNI plugin"):
        _attach_all(plan, store, state)
    state.phase = "ready"
    store.save(state)


def _build_router(
    plan: LabPlan, store: StateStore, state: LabState, step: _Stepper
) -> tuple[LabController, BgpRouter | None]:
    """The plain lab up to a ready controller: router namespace (and BGP daemon), nodes' namespaces, controller
    (and its BGP session); the controller's admin client and the BGP router, if any."""
    underlays = " + ".join(str(u) for f, u in ((4, UNDERLAY), (6, UNDERLAY6)) if f in plan.families)
    with step(f"router namespace, underlay bridge {underlays}"):
        topology.build_router(plan)
    router = None
    if plan.bgp:
        with step(f"{bgplab.NAMES[plan.router]} on the router, BGP AS {BGP_ASN}, neighbour {plan.controller_address}"):
            router = bgplab.start_router(plan, store, state)
    with step(f"{len(plan.nodes)} node namespaces wired to the underlay"):
        for node in plan.nodes:
            topology.build_node(plan, node)
    if plan.bgp:
        shown = " + ".join(str(a) for a in plan.controller_addresses)
        with step(f"controller namespace {plan.controller_netns} on the underlay ({shown})"):
            topology.build_controller(plan)
    client = LabController.of(plan, state.admin_token)
    with step(f"controller at {plan.controller_url} ({'bgp' if plan.bgp else 'kernel'} route backend)"):
        pid = members.start_controller(plan, store, state)
        _expect(client.wait_ready, READY_TIMEOUT, pid, store, "controller")
    if router is not None:
        with step(f"BGP session {plan.router_address} - {plan.controller_address} established (POST /v1/bgp/peers)"):
            bgplab.add_peer(client, plan)
            bgplab.wait_session(router, plan, SESSION_TIMEOUT)
    return client, router


def _attach_all(plan: LabPlan, store: StateStore, state: LabState) -> None:
    jobs = attach_order(plan)
    with ThreadPoolExecutor(max_workers=ATTACH_WORKERS) as pool:
        futures = [pool.submit(members.attach_pod, node, pod, store, state) for node, pod in jobs]
        for future in futures:
            future.result()
    for node in plan.nodes:  # attach order is racy; keep the record in plan order
        order = {p.name: i for i, p in enumerate(node.pods)}
        state.pods_of(node.name).sort(key=lambda p: order.get(p.name, len(order)))


def attach_order(plan: LabPlan) -> list[tuple[NodePlan, PodPlan]]:
    """Every pod once, round-robin over the nodes (pod 1 of every node, then pod 2, ...): concurrent ADDs go to
    different nodes' agents, as on a cluster where each node's kubelet runs its own, instead of queueing at one
    agent at a time."""
    rounds = max((len(n.pods) for n in plan.nodes), default=0)
    return [(node, node.pods[j]) for j in range(rounds) for node in plan.nodes if j < len(node.pods)]


def _expect(wait: Callable[..., None], timeout: float, pid: int, store: StateStore, process: str) -> None:
    try:
        wait(timeout, alive=lambda: procs.alive(pid))
    except ControllerError as exc:
        raise LabError(f"{exc}; log tail of {store.log(process)}:\n{tail(store, process)}") from exc


def tail(store: StateStore, process: str, lines: int = 15) -> str:
    return store.tail(process, lines)


@dataclass
class DownReport:
    processes: list[int]
    namespaces: list[str]
    state_dir_removed: bool


def down(name: str) -> DownReport:
    """Remove lab `name` entirely: processes, namespaces (and the links in them), the state directory.

    Idempotent: a lab that does not exist, or exists only in part, is success.
    """
    require_host()
    prefix = lab_prefix(name)
    store = StateStore(name)
    state = store.load()
    router = bgplab.stop_router(state, store) if state else []  # first, and gracefully: the BGP daemons
    remove_pathspace(f"{prefix}router")  # FRR's, also when `up` died before writing any state
    # The HA lab's database goes last, once its clients are gone (`ha.stop_database`: a clean shutdown).
    recorded = [pid for key, pid in state.processes.items() if key != "db"] if state else []
    recorded = [pid for pid in recorded if _is_hubnet(pid)]
    found = procs.pids_in_netns([n for n in labnet.list_netns(prefix) if n != f"{prefix}db"])
    stopped = set(recorded) | set(found) | set(router)
    procs.stop(stopped)
    stopped |= set(ha.stop_database(store, prefix))
    namespaces = topology.destroy(prefix)
    existed = store.exists()
    store.remove()
    return DownReport(processes=sorted(stopped), namespaces=namespaces, state_dir_removed=existed)


def _is_hubnet(pid: int) -> bool:
    """Guard against pid reuse: a recorded pid is only ours while its command line is a hubnet one."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"hubnet" in fh.read()
    except (FileNotFoundError, ProcessLookupError):
        return False


class _Stepper:
    """`with step("what"):` reports 'what (0.42 s)' when the step finished."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def __call__(self, what: str) -> _Step:
        return _Step(self.progress, what)


class _Step:
    def __init__(self, progress: Progress, what: str) -> None:
        self.progress, self.what = progress, what

    def __enter__(self) -> None:
        self.started = time.monotonic()

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.progress(f"{self.what} ({time.monotonic() - self.started:.2f} s)")


SWITCH_TIMEOUT = 60.0  # a third of the lease TTL for the heartbeat that carries the mode, then one reconcile


def switch_mode(name: str, mode: str, progress: Progress = _quiet) -> LabState:
    """Switch a running plain lab between `hub` and `direct` (docs/routing.md, Switching modes): restart its
    controller with the other HUBNET_MODE, then wait until every node's kernel holds exactly the routes of the mode
    (direct: one per other node's subnet; hub: its cluster routes). The router keeps programming the nodes' routes
    in both modes (kernel backend), so a switch back to hub finds them in place. Raises LabError."""
    from hubnet.lab.status import load

    if mode not in ("hub", "direct"):
        raise PlanError(f"mode must be hub or direct, got {mode!r}")
    state = load(name)
    plan = state.plan()
    if plan.ha or plan.bgp:
        raise PlanError("only the plain lab (--router kernel, one router, one controller) switches modes")
    store = StateStore(name)
    step = _Stepper(progress)
    try:
        with step(f"controller restarted with HUBNET_MODE={mode}"):
            old = state.processes.get("controller")
            if old is not None and _is_hubnet(old):
                procs.stop([old])
            state.mode = mode
            store.save(state)
            pid = members.start_controller(plan, store, state)
            _expect(LabController.of(plan, state.admin_token).wait_ready, READY_TIMEOUT, pid, store, "controller")
        with step(f"{len(plan.nodes)} nodes converged to {mode} mode"):
            _wait_converged(plan, state, SWITCH_TIMEOUT)
    except (LinuxError, ControllerError, OSError, TimeoutError) as exc:
        raise LabError(f"lab {name!r}: {exc}") from exc
    return state


def expected_routes(plan: LabPlan, state: LabState, node: str) -> set[str]:
    """The prefixes a node's own routes (protocol 44) cover in the lab's mode."""
    if state.mode == "direct":
        return {s for other, subnets in state.node_subnets.items() if other != node for s in subnets}
    return {str(c) for c in plan.cluster_cidrs}


def _wait_converged(plan: LabPlan, state: LabState, timeout: float) -> None:
    from hubnet.linux.routes import RouteTable

    deadline = time.monotonic() + timeout
    left = {n.name: n for n in plan.nodes}
    while left:
        for name, node in list(left.items()):
            table = RouteTable(proto=ROUTE_PROTO, netns=node.netns)
            try:
                held = {str(r.prefix) for r in table.owned()}
            finally:
                table.close()
            if held == expected_routes(plan, state, name):
                del left[name]
        if left and time.monotonic() > deadline:
            raise TimeoutError(f"not converged to {state.mode} mode within {timeout:.0f}s: {', '.join(left)}")
        time.sleep(0.2)
