"""What the agent knows about its node: the controller's record (persisted) and whether the node is ready."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hubnet.linux import ROUTE_PROTO
from hubnet.net import Address, Network, contains, gateway, parse_ip, parse_network
from hubnet.wire import Node, RouteState

# The longest prefix that still leaves a pod address after the gateway (IPv4 .2 of a /30; IPv6 likewise ::2 of /126).
MAX_PREFIX = {4: 30, 6: 126}


@dataclass(frozen=True)
class NodeNetwork:
    """The parts of the node record the node network is built from: one subnet per family the node has (IPv4
    first, at least one), the cluster CIDRs of both families, and the router's underlay address per family."""

    subnets: tuple[Network, ...]
    cluster_cidrs: tuple[Network, ...]
    routers: tuple[Address, ...] = ()
    proto: int = ROUTE_PROTO  # marks the node's cluster routes as hubnet's: the controller's HUBNET_ROUTE_PROTO
    # HUBNET_MODE=direct: no cluster route via the router; the peer routes come from the route feed (`peers`)
    direct: bool = False

    @property
    def subnet(self) -> Network:
        """The primary subnet (IPv4 when the node has one)."""
        return self.subnets[0]

    @property
    def gateway(self) -> Address:
        """The primary subnet's gateway."""
        return gateway(self.subnet)

    @property
    def router(self) -> Address | None:
        """The router's address of the primary subnet's family."""
        return self.router_of(self.subnet.version)

    @property
    def families(self) -> tuple[int, ...]:
        return tuple(s.version for s in self.subnets)

    def subnet_of(self, family: int) -> Network | None:
        return next((s for s in self.subnets if s.version == family), None)

    def router_of(self, family: int) -> Address | None:
        return next((r for r in self.routers if r.version == family), None)

    def cidrs_of(self, family: int) -> tuple[Network, ...]:
        return tuple(c for c in self.cluster_cidrs if c.version == family)

    def cluster_routes(self) -> list[tuple[Network, Address]]:
        """The hub-mode cluster routes: every cluster CIDR of the node's families via that family's router."""
        found: list[tuple[Network, Address]] = []
        for family in self.families:
            router = self.router_of(family)
            if router is not None:
                found.extend((cidr, router) for cidr in self.cidrs_of(family))
        return found

    @classmethod
    def build(
        cls,
        subnets: Iterable[Network],
        cluster_cidrs: Iterable[Network],
        routers: Iterable[Address] = (),
        proto: int = ROUTE_PROTO,
    ) -> NodeNetwork:
        """Sorted IPv4 first; raises ValueError for two values of one family (the agent's own flags)."""
        subnets, routers = _one_per_family(subnets, "subnet"), _one_per_family(routers, "router address")
        if not subnets:
            raise ValueError("no subnet")
        return cls(tuple(subnets), tuple(sorted(cluster_cidrs, key=_family)), tuple(routers), proto)

    @classmethod
    def from_record(cls, record: Node, routers: Iterable[Address] = ()) -> NodeNetwork:
        """Validate what the controller's record means (never trust blindly; the shape was checked by
        `Node.from_json`): at most one subnet per family, each inside a cluster CIDR of its family and big enough
        for a pod, each gateway the first host of its family's subnet, at most one router address per family.
        `routers` (the agent's `--router`) replace the controller's of their family. A record of a controller older
        than dual-stack (empty lists) means its singular fields. Raises ValueError."""
        primary = _network(record.subnet, "subnet")
        subnets = _one_per_family(
            [_network(s, "subnets") for s in record.subnets] or [primary], "subnet", "controller gave "
        )
        if primary not in subnets:
            raise ValueError(f"controller gave subnet {primary}, not one of its subnets {[str(s) for s in subnets]}")
        if not record.cluster_cidrs:
            raise ValueError("controller gave no cluster CIDR list (cluster_cidrs=[])")
        cidrs = tuple(_network(c, "cluster_cidrs") for c in record.cluster_cidrs)
        for subnet in subnets:
            if not any(contains(c, subnet) for c in cidrs):
                raise ValueError(f"controller gave subnet {subnet} outside the cluster CIDRs {[str(c) for c in cidrs]}")
            if subnet.prefixlen > MAX_PREFIX[subnet.version]:
                raise ValueError(f"controller gave subnet {subnet}, too small for pods")
        gateways = record.gateways or ([record.gateway] if record.gateway is not None else [])
        for text in gateways:
            gw = _address(text, "gateway")
            subnet = next((s for s in subnets if s.version == gw.version), None)
            if subnet is None:
                raise ValueError(f"controller gave gateway {text}, but no IPv{gw.version} subnet")
            if gw != gateway(subnet):
                raise ValueError(f"controller gave gateway {text}, not the first host of subnet {subnet}")
        if record.gateway is not None and _address(record.gateway, "gateway") != gateway(primary):
            raise ValueError(f"controller gave gateway {record.gateway}, not the first host of subnet {primary}")
        proto = ROUTE_PROTO if record.route_proto is None else record.route_proto  # None: an older controller
        if not 5 <= proto <= 255:  # 1-4 are the kernel's own (redirect, kernel, boot, static)
            raise ValueError(f"controller gave route_proto {proto}, not one of 5..255")
        given = record.router_addresses or ([record.router_address] if record.router_address is not None else [])
        theirs = _one_per_family((_address(a, "router_address") for a in given), "router address", "controller gave ")
        ours = list(routers)
        families = {r.version for r in ours}
        merged = sorted([*ours, *(r for r in theirs if r.version not in families)], key=_family)
        return cls(tuple(subnets), cidrs, tuple(merged), proto, direct=record.mode == "direct")


def _family(item: Address | Network) -> int:
    return item.version


def _one_per_family(items: Iterable[Any], what: str, who: str = "") -> list[Any]:
    out = sorted(items, key=_family)
    if len({i.version for i in out}) != len(out):
        raise ValueError(f"{who}more than one {what} of a family: {[str(i) for i in out]}")
    return out


def _network(value: object, field: str) -> Network:
    if not isinstance(value, str):
        raise ValueError(f"controller gave {field} {value!r}, not a CIDR string")
    try:
        return parse_network(value)
    except ValueError as exc:
        raise ValueError(f"controller gave {field} {value!r}: {exc}") from None


def _address(value: object, field: str) -> Address:
    if not isinstance(value, str):
        raise ValueError(f"controller gave {field} {value!r}, not an IP address string")
    try:
        return parse_ip(value)
    except ValueError:
        raise ValueError(f"controller gave {field} {value!r}, not an IP address") from None


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
