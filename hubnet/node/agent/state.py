"""What the agent knows about its node: the controller's record (persisted) and whether the node is ready."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from hubnet.linux import ROUTE_PROTO
from hubnet.net import gateway, parse_network
from hubnet.wire import Node, RouteState


@dataclass(frozen=True)
class NodeNetwork:
    """The parts of the node record the node network is built from."""

    subnet: IPv4Network
    cluster_cidrs: tuple[IPv4Network, ...]
    router: IPv4Address | None
    proto: int = ROUTE_PROTO  # marks the node's cluster routes as hubnet's: the controller's HUBNET_ROUTE_PROTO

    @property
    def gateway(self) -> IPv4Address:
        return gateway(self.subnet)

    @classmethod
    def from_record(cls, record: Node, router: IPv4Address | None = None) -> NodeNetwork:
        """Validate what the controller's record means (never trust blindly; the shape was checked by
        `Node.from_json`): the subnet lies inside one of the cluster CIDRs and the gateway (when given) is its
        first host. Raises ValueError."""
        subnet = _network(record.subnet, "subnet")
        if not record.cluster_cidrs:
            raise ValueError("controller gave no cluster CIDR list (cluster_cidrs=[])")
        cidrs = tuple(_network(c, "cluster_cidrs") for c in record.cluster_cidrs)
        if not any(subnet.subnet_of(c) for c in cidrs):
            raise ValueError(f"controller gave subnet {subnet} outside the cluster CIDRs {[str(c) for c in cidrs]}")
        if subnet.prefixlen > 30:
            raise ValueError(f"controller gave subnet {subnet}, too small for pods")
        if record.gateway is not None and _address(record.gateway, "gateway") != gateway(subnet):
            raise ValueError(f"controller gave gateway {record.gateway}, not the first host of subnet {subnet}")
        addr = record.router_address
        proto = ROUTE_PROTO if record.route_proto is None else record.route_proto  # None: an older controller
        if not 5 <= proto <= 255:  # 1-4 are the kernel's own (redirect, kernel, boot, static)
            raise ValueError(f"controller gave route_proto {proto}, not one of 5..255")
        router_address = router or (_address(addr, "router_address") if addr is not None else None)
        return cls(subnet, cidrs, router_address, proto)


def _network(value: object, field: str) -> IPv4Network:
    if not isinstance(value, str):
        raise ValueError(f"controller gave {field} {value!r}, not a CIDR string")
    try:
        return parse_network(value)
    except ValueError as exc:
        raise ValueError(f"controller gave {field} {value!r}: {exc}") from None


def _address(value: object, field: str) -> IPv4Address:
    if not isinstance(value, str):
        raise ValueError(f"controller gave {field} {value!r}, not an IPv4 address string")
    try:
        return IPv4Address(value)
    except ValueError:
        raise ValueError(f"controller gave {field} {value!r}, not an IPv4 address") from None


class NodeState:
    """Thread-safe: the CNI handlers read it while the heartbeat loop updates it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.network: NodeNetwork | None = None
        self.ready = False
        self.reason = "not registered with the controller yet"
        self.record: Node | None = None  # the controller's last answer (None: a fixed subnet, or none yet)

    def update(self, network: NodeNetwork | None, *, ready: bool, reason: str, record: Node | None) -> None:
        with self._lock:
            self.network, self.ready, self.reason, self.record = network, ready, reason, record

    def not_ready(self, reason: str) -> None:
        """Keep the network and record, refuse ADDs (code 11) with `reason` until the next good answer."""
        with self._lock:
            self.ready, self.reason = False, reason

    def snapshot(self) -> tuple[NodeNetwork | None, bool, str]:
        with self._lock:
            return self.network, self.ready, self.reason


def save_record(path: str, record: Node) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(record.to_json(), f)
    os.replace(tmp, path)


def load_record(path: str) -> Node | None:
    """The record last saved, its route state `pending` whatever it was (only the controller confirms a route);
    None when there is none or it does not parse (a file of an older agent lacking fields counts as none)."""
    try:
        with open(path) as f:
            data: Any = json.load(f)
        return Node.from_json({**data, "route_state": RouteState.PENDING.value})
    except (FileNotFoundError, ValueError, TypeError):
        return None
