"""The integrity check (pure): cross-check the database, the router's owned routes and the agents' reports.

Every finding is a `Problem` with a stable `kind`, so operators (and tests) can count them. Nothing here decides
what to repair: the reconciler repairs routes, an admin repairs rows. Input rows are text because a broken row
must still be representable (and reported rather than crash the check).

Dual-stack: a node contributes one `NodeFacts` per family it holds a subnet of (its address of that family beside
it), and every check stays within a family: an IPv6 subnet is never compared with an IPv4 one or an IPv4 pool.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Interface, IPv6Interface, ip_address, ip_interface, ip_network

from hubnet.net import Network, contains

KINDS = (
    "subnet-overlap",  # two live nodes hold overlapping (or identical) subnets
    "subnet-outside-pools",  # a live node's subnet lies outside every pool (or cannot be parsed)
    "route-missing",  # a live node has no owned route for its subnet
    "route-foreign",  # a live node has no owned route because a route hubnet does not own holds its prefix
    "route-orphan",  # an owned route whose prefix no live node holds
    "route-next-hop",  # an owned route for a node's subnet points somewhere else than the node's address
    "bridge-gateway",  # the node's agent reports a bridge that does not carry the subnet's gateway
    "direct-routes-refused",  # direct mode: the node's agent reports routes to other nodes its kernel refused
    "count-drift",  # a kept count (a pool's allocated, nodes per state) differs from a real count of the rows
)


@dataclass(frozen=True)
class NodeFacts:
    """One subnet of a live node and the node's underlay address of the same family (the route's next hop)."""

    name: str
    address: str
    subnet: str


@dataclass(frozen=True)
class BridgeReport:
    """What a node agent last reported about its bridge: its name and its addresses of both families
    (`a.b.c.d/len`, `fd00::1/64`), and when the controller received it (epoch seconds; None: unknown)."""

    name: str
    addresses: tuple[str, ...]
    received_at: float | None = None
    direct_failed: int = 0  # direct mode: routes to other nodes the node's kernel refused at its last reconcile
    direct_error: str | None = None


@dataclass(frozen=True)
class Problem:
    kind: str
    node: str | None
    subject: str  # the subnet / route prefix the problem is about
    detail: str
    age_seconds: float | None = None  # how old the observation is (an agent's report); None: observed just now

    def as_dict(self) -> dict[str, str | float | None]:
        return {
            "kind": self.kind,
            "node": self.node,
            "subject": self.subject,
            "detail": self.detail,
            "age_seconds": self.age_seconds,
        }


# The parsed subnet of each fact, by (node, subnet text): a node has one fact per family.
Parsed = Mapping[tuple[str, str], Network | None]


def _key(node: NodeFacts) -> tuple[str, str]:
    return node.name, node.subnet


def check(
    nodes: Sequence[NodeFacts],
    pools: Sequence[Network],
    routes: Sequence[tuple[str, str]] | None,
    bridges: Mapping[str, BridgeReport],
    *,
    foreign: Mapping[str, str] | None = None,
    now: float | None = None,
) -> list[Problem]:
    """All problems, ordered by kind then subject. `routes` (prefix, next hop) of the routes we own, or None when
    no route backend runs (route checks skipped); `foreign` describes, per prefix, a route we do not own that holds
    it; `bridges` only for nodes whose agent reported one, aged against `now`."""
    parsed = {_key(n): _network(n.subnet) for n in nodes}
    found = [*_overlaps(nodes, parsed), *_outside(nodes, parsed, pools)]
    if routes is not None:
        found += _routes(nodes, parsed, routes, foreign or {})
    found += _bridges(nodes, parsed, bridges, now)
    found += _direct(nodes, bridges, now)
    return sorted(found, key=lambda p: (KINDS.index(p.kind), p.subject, p.node or ""))


def _network(text: str) -> Network | None:
    try:
        return ip_network(text)
    except ValueError:
        return None


def _overlaps(nodes: Sequence[NodeFacts], parsed: Parsed) -> Iterable[Problem]:
    """Sort by (family, start, -size): any overlap shows between a subnet and the widest earlier one still open of
    its family (the integers of the two families are not comparable)."""
    ordered = sorted(
        ((net, n) for n in nodes if (net := parsed[_key(n)]) is not None),
        key=lambda item: (item[0].version, int(item[0].network_address), -item[0].num_addresses),
    )
    widest: tuple[Network, NodeFacts] | None = None
    for net, node in ordered:
        if widest is not None and widest[0].version != net.version:
            widest = None
        if widest is not None and int(net.network_address) <= int(widest[0].broadcast_address):
            other = widest[1]
            yield Problem("subnet-overlap", node.name, str(net), f"{node.name} {net} overlaps {other.name} {widest[0]}")
        if widest is None or int(net.broadcast_address) > int(widest[0].broadcast_address):
            widest = (net, node)


def _outside(nodes: Sequence[NodeFacts], parsed: Parsed, pools: Sequence[Network]) -> Iterable[Problem]:
    for node in nodes:
        net = parsed[_key(node)]
        if net is None:
            yield Problem("subnet-outside-pools", node.name, node.subnet, f"subnet {node.subnet!r} is unparsable")
        elif not any(contains(pool, net) for pool in pools):
            yield Problem("subnet-outside-pools", node.name, str(net), f"{net} lies outside every pool")


def _routes(
    nodes: Sequence[NodeFacts],
    parsed: Parsed,
    routes: Sequence[tuple[str, str]],
    foreign: Mapping[str, str],
) -> Iterable[Problem]:
    owned: dict[str, list[str]] = {}
    for prefix, hop in routes:
        owned.setdefault(prefix, []).append(hop)
    holders: dict[str, list[NodeFacts]] = {}  # several only when subnets are duplicated (reported as overlap)
    for node in nodes:
        if (net := parsed[_key(node)]) is not None:
            holders.setdefault(str(net), []).append(node)
    for subject, held_by in holders.items():
        node, hops = held_by[0], owned.get(subject)
        if not hops and subject in foreign:
            detail = f"a route hubnet does not own holds {subject} ({foreign[subject]}); hubnet never replaces it"
            yield Problem("route-foreign", node.name, subject, detail)
            continue
        if not hops:
            yield Problem("route-missing", node.name, subject, f"no route for {subject} via {node.address}")
            continue
        for hop in hops:
            if not any(_same_ip(hop, n.address) for n in held_by):
                detail = f"route {subject} via {hop}, but node {node.name} is at {node.address}"
                yield Problem("route-next-hop", node.name, subject, detail)
    for prefix, hops in owned.items():
        if prefix not in holders:
            for hop in hops:
                yield Problem("route-orphan", None, prefix, f"owned route {prefix} via {hop} has no live node")


def _same_ip(a: str, b: str) -> bool:
    try:
        return ip_address(a) == ip_address(b)
    except ValueError:
        return a == b


def _bridges(
    nodes: Sequence[NodeFacts], parsed: Parsed, bridges: Mapping[str, BridgeReport], now: float | None
) -> Iterable[Problem]:
    for node in nodes:
        net, report = parsed[_key(node)], bridges.get(node.name)
        if net is None or report is None or net.num_addresses < 4:
            continue
        gateway = ip_interface(f"{net.network_address + 1}/{net.prefixlen}")
        if not any(_interface(a) == gateway for a in report.addresses):
            carried = ", ".join(report.addresses) or "no address"
            detail = f"bridge {report.name} of {node.name} carries {carried}, not its gateway {gateway}"
            age = None
            if now is not None and report.received_at is not None:
                age = round(max(now - report.received_at, 0.0), 1)
                detail += f" (agent report {age:g} s old)"
            yield Problem("bridge-gateway", node.name, str(net), detail, age)


def _direct(nodes: Sequence[NodeFacts], bridges: Mapping[str, BridgeReport], now: float | None) -> Iterable[Problem]:
    """Once per node (not per family): its agent says the kernel refused some of its direct routes."""
    seen: set[str] = set()
    for node in nodes:
        report = bridges.get(node.name)
        if node.name in seen or report is None or report.direct_failed <= 0:
            continue
        seen.add(node.name)
        detail = f"{node.name}: {report.direct_failed} direct route(s) to other nodes refused"
        if report.direct_error:
            detail += f": {report.direct_error}"
        age = None
        if now is not None and report.received_at is not None:
            age = round(max(now - report.received_at, 0.0), 1)
            detail += f" (agent report {age:g} s old)"
        yield Problem("direct-routes-refused", node.name, node.subnet, detail, age)


def _interface(text: str) -> IPv4Interface | IPv6Interface | None:
    try:
        return ip_interface(text)
    except ValueError:
        return None
