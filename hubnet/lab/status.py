"""`hubnet lab status`: the lab as the documented JSON contract, plus live route state from the controller.

Contract (outside checks read it): {"name", "router": {"netns", "address", "addresses"}, "controller": {"url"},
"families", "nodes": [{"name", "netns", "address", "addresses", "subnet", "subnets",
"pods": [{"name", "netns", "ip", "ips"}]}]}. The singular keys keep meaning IPv4 when the lab has it (the first of
the list otherwise); the lists hold every family, IPv4 first. Extra keys may be added (`phase`, per node
`route_state`; a BGP lab's "bgp": {"router": "bird"|"frr", "controller_netns", "sessions": [{"neighbor", "state",
"prefixes_received"}]}, the sessions live from the router daemon; the HA lab's "vrrp", "routers", "controllers",
"database" from `hubnet.lab.ha.status`); the contract's keys never change meaning. In the HA lab "router" is the
VRRP address, its "netns" the master's (r1's while there is none), "controller" the first replica.
"""

from __future__ import annotations

from typing import Any

from hubnet.lab import bgplab, ha
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
    """node -> route_state as the controller (the first replica that answers) reports it ({} when none does)."""
    plan = state.plan()
    clients = [ha.client_of(c, state.admin_token, timeout=2.0) for c in plan.controllers] or [
        LabController.of(plan, state.admin_token, timeout=2.0)
    ]
    for client in clients:
        try:
            records = client.nodes()
        except ControllerError:
            continue
        return {str(r["name"]): str(r.get("route_state")) for r in records}
    return {}


def status(state: LabState, live: bool = True) -> dict[str, Any]:
    plan = state.plan()
    routes = route_states(state) if live else {}
    extra = ha.status(plan, state, live) if plan.ha else {}
    master = extra.get("vrrp", {}).get("master")
    data: dict[str, Any] = {
        "name": state.name,
        "phase": state.phase,
        "families": list(plan.families),
        "router": {
            "netns": plan.member(master).netns if master else plan.router_netns,
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
    data |= extra
    if plan.bgp:  # which daemon, where the controller runs, the daemon's own view of its sessions
        live_sessions = bgplab.sessions(state, StateStore(state.name)) if live else {"sessions": []}
        data["bgp"] = {"router": plan.router, "controller_netns": plan.controller_netns} | live_sessions
    return data
