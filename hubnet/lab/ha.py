"""The HA lab (`hubnet lab up --routers 2 --controllers 2`): its build steps, what `down` must stop first, a router
failure and return for tests, and its part of `status`.

Topology: a switch namespace holds the underlay bridge; PostgreSQL in `hnlab-<name>-db` (192.168.1.6); routers r1
and r2 (.3, .4) run keepalived (the router address 192.168.1.1 / fd00:192:168:1::1 is their VRRP address) and a
router agent each (`hubnet router join` with every controller's URL), which programs its own namespace's kernel
table; controllers c1 and c2 (.2, .5) share the database and have no route backend. Nodes join with every
controller's URL and route the cluster CIDR via the VRRP address, as in the plain lab.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from hubnet.lab import members, pgdb, procs, topology, vrrp
from hubnet.lab.bgplab import expected_routes
from hubnet.lab.controller import ControllerError, LabController
from hubnet.lab.errors import LabError, PrerequisiteMissing
from hubnet.lab.plan import NODE_UPLINK, UNDERLAY, UNDERLAY6, LabPlan, MemberPlan
from hubnet.lab.state import LabState, StateStore
from hubnet.linux import labnet
from hubnet.linux.errors import LinuxError
from hubnet.linux.routes import RouteTable
from hubnet.net import Address, Network

Step = Callable[[str], AbstractContextManager[None]]
ROUTE_PROTO = 44  # the router agents' default --route-proto
VRRP_TIMEOUT = 10.0
READY_TIMEOUT = 60.0
ROUTERS_TIMEOUT = 60.0


def require() -> None:
    """The HA lab's programs are installed; PrerequisiteMissing naming the package otherwise (before anything is
    built)."""
    if shutil.which(vrrp.KEEPALIVED) is None:
        raise PrerequisiteMissing("the HA lab needs keepalived: apt-get install keepalived")
    pgdb.require()


def database(plan: LabPlan, store: StateStore) -> pgdb.LabDatabase:
    assert plan.db is not None
    networks: dict[int, Network] = {4: UNDERLAY, 6: UNDERLAY6}
    return pgdb.LabDatabase(
        plan.db.netns, store.dir / "db", store.log("db"), plan.db.addresses, [networks[f] for f in plan.families]
    )


def keepalived(store: StateStore, router: MemberPlan) -> vrrp.Keepalived:
    return vrrp.Keepalived(router.netns, store.dir / "routers" / router.name, store.log(f"keepalived-{router.name}"))


def client_of(member: MemberPlan, token: str, timeout: float = 5.0) -> LabController:
    """An admin client of controller `member`, reached from inside its namespace."""
    return LabController(member.netns, token, timeout=timeout, host=str(member.addresses[0]))


def build(plan: LabPlan, store: StateStore, state: LabState, step: Step) -> LabController:
    """Switch, nodes' namespaces, PostgreSQL, routers with keepalived, controllers, router agents, in that order;
    the admin client of the first controller."""
    with step(f"switch namespace {plan.switch_netns}, {len(plan.nodes)} node namespaces on its bridge"):
        topology.build_switch(plan)
        for node in plan.nodes:
            topology.build_node(plan, node)
    assert plan.db is not None
    with step(f"PostgreSQL in {plan.db.netns}: {plan.db_url} (cluster in {store.dir / 'db'})"):
        topology.build_member(plan, plan.db, router=False)
        state.processes["db"] = database(plan, store).start()
        store.save(state)
    with step(f"{len(plan.routers)} routers, VRRP (keepalived) for {', '.join(map(str, plan.router_addresses))}"):
        for router in plan.routers:
            topology.build_member(plan, router, router=True)
            state.processes[f"keepalived-{router.name}"] = keepalived(store, router).start(
                vrrp.render(vrrp.vrrp_router(plan, router))
            )
            store.save(state)
        vrrp.wait_master(plan, VRRP_TIMEOUT)
    with step(f"{len(plan.controllers)} controllers on PostgreSQL ({', '.join(plan.controller_urls)})"):
        for controller in plan.controllers:
            topology.build_member(plan, controller, router=False)
            members.start_controller(plan, store, state, controller)  # migrations take an advisory lock
        for controller in plan.controllers:
            _wait_ready(plan, controller, store, state)
    client = client_of(plan.controllers[0], state.admin_token)
    with step(f"router agents {', '.join(r.name for r in plan.routers)} up"):
        for router in plan.routers:
            members.start_router_agent(plan, router, store, state)
        wait_routers_up(client, plan, store, state, ROUTERS_TIMEOUT)
    return client


def _wait_ready(plan: LabPlan, controller: MemberPlan, store: StateStore, state: LabState) -> None:
    process = f"controller-{controller.name}"
    pid = state.processes[process]
    try:
        client_of(controller, state.admin_token).wait_ready(READY_TIMEOUT, alive=lambda: procs.alive(pid))
    except ControllerError as exc:
        raise LabError(f"{controller.name}: {exc}; log tail of {store.log(process)}:\n{store.tail(process)}") from exc


def wait_routers_up(client: LabController, plan: LabPlan, store: StateStore, state: LabState, timeout: float) -> None:
    """Until `GET /v1/routers` lists every router `up` (its agent loaded the table and reported it complete);
    LabError with the agent's log tail when an agent exits."""
    deadline = time.monotonic() + timeout
    seen: dict[str, str] = {}
    while time.monotonic() < deadline:
        for router in plan.routers:
            process = f"agent-{router.name}"
            if not procs.alive(state.processes[process]):
                raise LabError(f"the router agent of {router.name} exited; log tail:\n{store.tail(process)}")
        with contextlib.suppress(ControllerError):
            seen = {str(r["name"]): str(r["status"]) for r in client.get("/v1/routers").get("items", [])}
        if all(seen.get(r.name) == "up" for r in plan.routers):
            return
        time.sleep(0.2)
    states = {r.name: seen.get(r.name, "not joined") for r in plan.routers}
    raise LabError(f"router agents not up within {timeout:.0f}s: {states}")


def owned_routes(router: MemberPlan) -> dict[Network, Address] | None:
    """prefix -> next hop of the router agent's routes (proto 44) in the router's kernel; None without the
    namespace."""
    try:
        table = RouteTable(proto=ROUTE_PROTO, netns=router.netns)
    except (LinuxError, OSError):
        return None
    try:
        return {r.prefix: r.next_hop for r in table.owned()}
    finally:
        table.close()


def wait_installed(plan: LabPlan, node_subnets: dict[str, list[str]], timeout: float) -> None:
    """Until every router's kernel holds every node's route via that node (the backup as much as the master)."""
    expected = expected_routes(plan, node_subnets)
    deadline = time.monotonic() + timeout
    missing: dict[str, int] = {}
    while time.monotonic() < deadline:
        tables = {r.name: owned_routes(r) or {} for r in plan.routers}
        missing = {name: sum(have.get(p) != hop for p, hop in expected.items()) for name, have in tables.items()}
        if not any(missing.values()):
            return
        time.sleep(0.2)
    raise LabError(f"routers missing node routes after {timeout:.0f}s (count per router): {missing}")


def fail_router(state: LabState, name: str) -> None:
    """A router dies: its agent and keepalived are killed (SIGKILL) and its uplink goes down. The other router
    takes the address over (~0.4 s) and holds every route already."""
    plan, store = state.plan(), StateStore(state.name)
    router = plan.member(name)
    procs.kill([state.processes.get(f"agent-{name}", 0)])
    keepalived(store, router).kill()
    labnet.set_link_state(router.netns, NODE_UPLINK, up=False)


def restore_router(state: LabState, name: str, timeout: float = ROUTERS_TIMEOUT) -> None:
    """The router comes back as from a reboot: without the virtual addresses the killed keepalived left on its link,
    uplink up, its agent started, and keepalived only once the agent has put every route the serving router holds
    into this router's kernel — r1 takes the address back 0.4 s after keepalived starts, and with an empty table it
    would drop every packet. LabError (keepalived not started) on timeout."""
    plan, store = state.plan(), StateStore(state.name)
    router = plan.member(name)
    labnet.delete_addresses(router.netns, NODE_UPLINK, [*vrrp.vips(plan.families), vrrp.LINK_LOCAL_VIP])
    labnet.set_link_state(router.netns, NODE_UPLINK, up=True)
    members.start_router_agent(plan, router, store, state)
    serving = vrrp.master(plan)
    if serving is not None and serving != name:
        want = owned_routes(plan.member(serving)) or {}
    else:
        want = expected_routes(plan, state.node_subnets)
    deadline = time.monotonic() + timeout
    while not want.items() <= (owned_routes(router) or {}).items():
        if time.monotonic() > deadline:
            raise LabError(f"{name}'s agent did not program the {len(want)} routes within {timeout:.0f}s")
        time.sleep(0.1)
    state.processes[f"keepalived-{name}"] = keepalived(store, router).start(vrrp.render(vrrp.vrrp_router(plan, router)))
    store.save(state)


def stop_database(store: StateStore, prefix: str) -> list[int]:
    """`down`, after every client is gone: PostgreSQL shut down cleanly (`pg_ctl stop -m fast`), then whatever
    still runs in its namespace; the pids that were running there."""
    db_netns = f"{prefix}db"
    pids = procs.pids_in_netns([db_netns])
    if (store.dir / "db").exists():
        with contextlib.suppress(LabError, PrerequisiteMissing, OSError):
            pgdb.LabDatabase(db_netns, store.dir / "db", store.log("db"), [], []).stop()
    procs.stop(procs.pids_in_netns([db_netns]))
    return pids


def status(plan: LabPlan, state: LabState, live: bool) -> dict[str, Any]:
    """`lab status`'s HA part: the VRRP master (who holds the address), each router's state and route count,
    each controller's /healthz, the database."""
    store = StateStore(state.name)
    held = vrrp.holders(plan) if live else {}
    master = vrrp.master(plan) if live else None
    assert plan.db is not None
    return {
        "vrrp": {"master": master, "addresses": [str(a) for a in plan.router_addresses]},
        "routers": [_router(r, store, state, held, master, live) for r in plan.routers],
        "controllers": [
            {"name": c.name, "netns": c.netns, "url": c.url, "health": _health(c, state) if live else "unknown"}
            for c in plan.controllers
        ],
        "database": {"netns": plan.db.netns, "url": plan.db_url, "running": database(plan, store).pid() is not None},
    }


def _router(
    router: MemberPlan,
    store: StateStore,
    state: LabState,
    held: dict[str, list[str]],
    master: str | None,
    live: bool,
) -> dict[str, Any]:
    running = keepalived(store, router).running
    routes = owned_routes(router) if live else None
    return {
        "name": router.name,
        "netns": router.netns,
        "address": str(router.addresses[0]),
        "addresses": [str(a) for a in router.addresses],
        "priority": router.priority,
        "vrrp": "master" if master == router.name else "backup" if running else "stopped",
        "holds": held.get(router.name, []),
        "keepalived": running,
        "agent": procs.alive(state.processes.get(f"agent-{router.name}", 0)),
        "routes": None if routes is None else len(routes),
    }


def _health(controller: MemberPlan, state: LabState) -> str:
    """`ok` (what /healthz says), or why there is no answer."""
    try:
        answer = client_of(controller, state.admin_token, timeout=2.0).get("/healthz")
    except ControllerError as exc:
        return f"unreachable ({exc})"
    return str(answer.get("status")) if isinstance(answer, dict) else f"unexpected answer {answer!r}"
