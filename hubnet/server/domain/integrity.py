"""The integrity check (pure): cross-check the database, the router's owned routes and the agents' reports.

Every finding is a `Problem` with a stable `kind`, so operators (and tests) can count them. Nothing here decides
what to repair: the reconciler repairs routes, an admin repairs rows. Input rows are text because a broken row
must still be representable (and reported rather than crash the check).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

KINDS = (
    "subnet-overlap",  # two live nodes hold overlapping (or identical) subnets
    "subnet-outside-pools",  # a live node's subnet lies outside every pool (or cannot be parsed)
    "route-missing",  # a live node has no owned route for its subnet
    "route-foreign",  # a live node has no owned route because a route hubnet does not own holds its prefix
    "route-orphan",  # an owned route whose prefix no live node holds
    "route-next-hop",  # an owned route for a node's subnet points somewhere else than the node's address
    "bridge-gateway",  # the node's agent reports a bridge that does not carry the subnet's gateway
)


@dataclass(frozen=True)
class NodeFacts:
    name: str
    address: str
    subnet: str


@dataclass(frozen=True)
class BridgeReport:
    """What a node agent last reported about its bridge: its name and its IPv4 addresses (`a.b.c.d/len`), and
    when the controller received it (epoch seconds; None: unknown)."""

    name: str
    addresses: tuple[str, ...]
    received_at: float | None = None


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


def check(
    nodes: Sequence[NodeFacts],
    pools: Sequence[IPv4Network],
    routes: Sequence[tuple[str, str]] | None,
    bridges: Mapping[str, BridgeReport],
    *,
    foreign: Mapping[str, str] | None = None,
    now: float | None = None,
) -> list[Problem]:
    """All problems, ordered by kind then subject. `routes` (prefix, next hop) of the routes we own, or None when
    no route backend runs (route checks skipped); `foreign` describes, per prefix, a route we do not own that holds
    it; `bridges` only for nodes whose agent reported one, aged against `now`."""
    parsed = {n.name: _network(n.subnet) for n in nodes}
    found = [*_overlaps(nodes, parsed), *_outside(nodes, parsed, pools)]
    if routes is not None:
        found += _routes(nodes, parsed, routes, foreign or {})
    found += _bridges(nodes, parsed, bridges, now)
    return sorted(found, key=lambda p: (KINDS.index(p.kind), p.subject, p.node or ""))


def _network(text: str) -> IPv4Network | None:
    try:
        return IPv4Network(text)
    except ValueError:
        return None


def _overlaps(nodes: Sequence[NodeFacts], parsed: Mapping[str, IPv4Network | None]) -> Iterable[Problem]:
    """Sort by (start, -size): any overlap shows between a subnet and the widest earlier one still open."""
    ordered = sorted(
        ((net, n) for n in nodes if (net := parsed[n.name]) is not None),
        key=lambda item: (int(item[0].network_address), -item[0].num_addresses),
    )
    widest: tuple[IPv4Network, NodeFacts] | None = None
    for net, node in ordered:
        if widest is not None and int(net.network_address) <= int(widest[0].broadcast_address):
            other = widest[1]
            yield Problem("subnet-overlap", node.name, str(net), f"{node.name} {net} overlaps {other.name} {widest[0]}")
        if widest is None or int(net.broadcast_address) > int(widest[0].broadcast_address):
            widest = (net, node)


def _outside(
    nodes: Sequence[NodeFacts], parsed: Mapping[str, IPv4Network | None], pools: Sequence[IPv4Network]
) -> Iterable[Problem]:
    for node in nodes:
        net = parsed[node.name]
        if net is None:
            yield Problem("subnet-outside-pools", node.name, node.subnet, f"subnet {node.subnet!r} is unparsable")
        elif not any(net.subnet_of(pool) for pool in pools):
            yield Problem("subnet-outside-pools", node.name, str(net), f"{net} lies outside every pool")


def _routes(
    nodes: Sequence[NodeFacts],
    parsed: Mapping[str, IPv4Network | None],
    routes: Sequence[tuple[str, str]],
    foreign: Mapping[str, str],
) -> Iterable[Problem]:
    owned: dict[str, list[str]] = {}
    for prefix, hop in routes:
        owned.setdefault(prefix, []).append(hop)
    holders: dict[str, list[NodeFacts]] = {}  # several only when subnets are duplicated (reported as overlap)
    for node in nodes:
        if (net := parsed[node.name]) is not None:
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
        return IPv4Address(a) == IPv4Address(b)
    except ValueError:
        return a == b


def _bridges(
    nodes: Sequence[NodeFacts],
    parsed: Mapping[str, IPv4Network | None],
    bridges: Mapping[str, BridgeReport],
    now: float | None,
) -> Iterable[Problem]:
    for node in nodes:
        net, report = parsed[node.name], bridges.get(node.name)
        if net is None or report is None or net.num_addresses < 4:
            continue
        gateway = IPv4Interface(f"{net.network_address + 1}/{net.prefixlen}")
        if not any(_interface(a) == gateway for a in report.addresses):
            carried = ", ".join(report.addresses) or "no address"
            detail = f"bridge {report.name} of {node.name} carries {carried}, not its gateway {gateway}"
            age = None
            if now is not None and report.received_at is not None:
                age = round(max(now - report.received_at, 0.0), 1)
                detail += f" (agent report {age:g} s old)"
            yield Problem("bridge-gateway", node.name, str(net), detail, age)


def _interface(text: str) -> IPv4Interface | None:
    try:
        return IPv4Interface(text)
    except ValueError:
        return None
