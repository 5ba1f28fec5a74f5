"""The BGP side of a lab built with `--router bird|frr`: the router daemon in the router namespace, the peer the
controller is told about (`POST /v1/bgp/peers`), the waits that make `up` honest, and the sessions `status` shows.

The router (AS 64512, id 192.168.1.1) has one neighbour: the controller's speaker at 192.168.1.2 (or
fd00:192:168:1::2 in an IPv6-only lab), iBGP, one session carrying both families. The router learns the node
routes only from it and installs them into its kernel table; its forwarding is the kernel router's as before.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from ipaddress import ip_network
from typing import Any

from hubnet.lab.bgprouter import PACKAGES, BgpRouter, Neighbor, RouterError, make_router, missing_binaries
from hubnet.lab.controller import ControllerError, LabController
from hubnet.lab.errors import LabError, PrerequisiteMissing
from hubnet.lab.plan import BGP_ASN, BGP_PORT, ROUTER_ADDRESS, LabPlan
from hubnet.lab.routers.frr import remove_pathspace
from hubnet.lab.state import LabState, StateStore
from hubnet.net import Address, Network

NAMES = {"bird": "BIRD 2", "frr": "FRR (zebra + bgpd)"}
PROCESS_PREFIX = "router-"  # state.processes["router-bird"], ["router-zebra"], ["router-bgpd"]


def router_of(plan: LabPlan, store: StateStore) -> BgpRouter:
    """The lab's router daemon (not started): its workdir is `<state dir>/router`."""
    missing = missing_binaries(plan.router)
    if missing:
        package = PACKAGES[plan.router]
        raise PrerequisiteMissing(f"--router {plan.router} needs {', '.join(missing)}: apt-get install {package}")
    neighbor = Neighbor(plan.controller_address, BGP_ASN, port=BGP_PORT)
    try:
        return make_router(plan.router, plan.router_netns, BGP_ASN, ROUTER_ADDRESS, [neighbor], store.dir / "router")
    except RouterError as exc:
        raise LabError(str(exc)) from exc


def start_router(plan: LabPlan, store: StateStore, state: LabState) -> BgpRouter:
    """Start the router daemon and record its pids (also when it failed half-way, so `down` finds them)."""
    router = router_of(plan, store)
    try:
        router.start()
    except RouterError as exc:
        raise LabError(str(exc)) from exc
    finally:
        state.processes.update({PROCESS_PREFIX + daemon: pid for daemon, pid in router.pids.items()})
        store.save(state)
    return router


def stop_router(state: LabState, store: StateStore) -> list[int]:
    """`down`: stop the recorded router daemons (SIGTERM: a clean BGP shutdown) and remove what FRR's pathspace
    made outside the state directory; the pids stopped. Works without a state file too (nothing recorded)."""
    plan = state.plan()
    pids = {k.removeprefix(PROCESS_PREFIX): v for k, v in state.processes.items() if k.startswith(PROCESS_PREFIX)}
    if plan.bgp:
        with contextlib.suppress(LabError):
            router = router_of(plan, store)
            router.pids = dict(pids)
            router.stop()
    remove_pathspace(plan.router_netns)
    return sorted(pids.values())


def peer_body(plan: LabPlan) -> dict[str, Any]:
    """What the lab posts to `/v1/bgp/peers`: the router, iBGP, directly connected, no MD5."""
    return {"address": str(plan.router_address), "asn": BGP_ASN, "description": f"lab router ({plan.router})"}


def add_peer(client: LabController, plan: LabPlan) -> None:
    """Tell the controller's speaker about the router; an existing peer (409) is fine."""
    try:
        client.post("/v1/bgp/peers", peer_body(plan))
    except ControllerError as exc:
        if exc.status != 409:
            raise


def wait_session(router: BgpRouter, plan: LabPlan, timeout: float) -> None:
    """Until the router's session with the controller is established; LabError showing the sessions otherwise."""
    deadline = time.monotonic() + timeout
    peer = str(plan.controller_address)
    seen: list[Any] = []
    while time.monotonic() < deadline:
        with contextlib.suppress(RouterError):
            seen = router.sessions()
            if any(s.neighbor == peer and s.state == "established" for s in seen):
                return
        time.sleep(0.2)
    shown = ", ".join(f"{s.neighbor} {s.state}" for s in seen) or "none"
    raise LabError(
        f"no established BGP session from the {plan.router} router to {peer} within {timeout:.0f}s "
        f"(sessions: {shown}; router logs in {router.workdir})"
    )


def expected_routes(plan: LabPlan, node_subnets: Mapping[str, list[str]]) -> dict[Network, Address]:
    """Every node subnet via that node's underlay address of the same family: what the router must install."""
    routes: dict[Network, Address] = {}
    for node in plan.nodes:
        for text in node_subnets.get(node.name, []):
            subnet = ip_network(text)
            routes[subnet] = next(a for a in node.addresses if a.version == subnet.version)
    return routes


def wait_installed(router: BgpRouter, expected: Mapping[Network, Address], timeout: float) -> None:
    """Until the router's kernel table holds every expected route (with that next hop); LabError naming the
    missing ones otherwise."""
    deadline = time.monotonic() + timeout
    missing: dict[Network, Address] = dict(expected)
    while time.monotonic() < deadline:
        have = router.installed()
        missing = {p: hop for p, hop in expected.items() if have.get(p) != hop}
        if not missing:
            return
        time.sleep(0.2)
    shown = ", ".join(f"{p} via {hop}" for p, hop in sorted(missing.items(), key=str))
    raise LabError(f"the {router.kind} router did not install {shown} within {timeout:.0f}s")


def sessions(state: LabState, store: StateStore) -> dict[str, Any]:
    """`status`: the router daemon's sessions, live ({"sessions": [...]} or {"error": ...})."""
    try:
        found = router_of(state.plan(), store).sessions()
    except (LabError, RouterError) as exc:
        return {"sessions": [], "error": str(exc)}
    return {
        "sessions": [
            {"neighbor": s.neighbor, "state": s.state, "prefixes_received": s.prefixes_received} for s in found
        ]
    }
