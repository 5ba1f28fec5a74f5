"""`hubnet lab status`: the lab as the documented JSON contract, plus live route state from the controller.

Contract (outside checks read it): {"name", "router": {"netns", "address", "addresses"}, "controller": {"url"},
"families", "nodes": [{"name", "netns", "address", "addresses", "subnet", "subnets",
"pods": [{"name", "netns", "ip", "ips"}]}]}. The singular keys keep meaning IPv4 when the lab has it (the first of
the list otherwise); the lists hold every family, IPv4 first. Extra keys may be added (`phase`, per node
`route_state`; a BGP lab's "bgp": {"router": "bird"|"frr", "controller_netns", "sessions": [{"neighbor", "state",
"prefixes_received"}]}, the sessions live from the router daemon); the contract's keys never change meaning.
"""

from __future__ import annotations

from typing import Any

from hubnet.lab import bgplab
from hubnet.lab.controller import ControllerError, LabController
from hubnet.lab.errors import LabMissing, require_host
from hubnet.lab.state import LabState, StateStore


def load(name: str) -> LabState:
    """The state of lab `name`; raises LabMissing when there is none (PrerequisiteMissing when not root)."""
    require_host()
    state = StateStore(name).load()
    if state is None:
        raise LabMissing(f"no lab named {name!r} (start one with `hubnet lab up --name {name}`)")
    return state


def route_states(state: LabState) -> dict[str, str]:
    """node -> route_state as the controller reports it ('unknown' when it does not answer)."""
    try:
        records = LabController.of(state.plan(), state.admin_token, timeout=2.0).nodes()
    except ControllerError:
        return {}
    return {str(r["name"]): str(r.get("route_state")) for r in records}


def status(state: LabState, live: bool = True) -> dict[str, Any]:
    plan = state.plan()
    routes = route_states(state) if live else {}
    data: dict[str, Any] = {
        "name": state.name,
        "phase": state.phase,
        "families": list(plan.families),
        "router": {
            "netns": plan.router_netns,
            "address": str(plan.router_address),
            "addresses": [str(a) for a in plan.router_addresses],
        },
        "controller": {"url": plan.controller_url},
        "nodes": [
            {
                "name": node.name,
                "netns": node.netns,
                "address": str(node.addresses[0]),
                "addresses": [str(a) for a in node.addresses],
                "subnet": state.subnets.get(node.name),
                "subnets": state.node_subnets.get(node.name, []),
                "route_state": routes.get(node.name, "unknown"),
                "pods": [
                    {"name": p.name, "netns": p.netns, "ip": p.ip, "ips": p.ips or ([p.ip] if p.ip else [])}
                    for p in state.node_pods.get(node.name, [])
                ],
            }
            for node in plan.nodes
        ],
    }
    if plan.bgp:  # which daemon, where the controller runs, the daemon's own view of its sessions
        live_sessions = bgplab.sessions(state, StateStore(state.name)) if live else {"sessions": []}
        data["bgp"] = {"router": plan.router, "controller_netns": plan.controller_netns} | live_sessions
    return data
