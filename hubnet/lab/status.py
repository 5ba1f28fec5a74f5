"""`hubnet lab status`: the lab as the documented JSON contract, plus live route state from the controller.

Contract (outside checks read it): {"name", "router": {"netns", "address"}, "controller": {"url"},
"nodes": [{"name", "netns", "address", "subnet", "pods": [{"name", "netns", "ip"}]}]}. Extra keys may be added
(`phase`, per node `route_state`); the contract's keys never change meaning.
"""

from __future__ import annotations

from typing import Any

from hubnet.lab.controller import ControllerError, LabController
from hubnet.lab.errors import LabMissing, require_host
from hubnet.lab.plan import ROUTER_ADDRESS, make_plan
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
    plan = make_plan(state.name, state.nodes, 0)
    try:
        records = LabController(plan.router_netns, state.admin_token, timeout=2.0).nodes()
    except ControllerError:
        return {}
    return {str(r["name"]): str(r.get("route_state")) for r in records}


def status(state: LabState, live: bool = True) -> dict[str, Any]:
    plan = make_plan(state.name, state.nodes, 0)
    routes = route_states(state) if live else {}
    return {
        "name": state.name,
        "phase": state.phase,
        "router": {"netns": plan.router_netns, "address": str(ROUTER_ADDRESS)},
        "controller": {"url": plan.controller_url},
        "nodes": [
            {
                "name": node.name,
                "netns": node.netns,
                "address": str(node.address),
                "subnet": state.subnets.get(node.name),
                "route_state": routes.get(node.name, "unknown"),
                "pods": [{"name": p.name, "netns": p.netns, "ip": p.ip} for p in state.node_pods.get(node.name, [])],
            }
            for node in plan.nodes
        ],
    }
