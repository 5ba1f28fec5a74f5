"""The node's cluster routes carry hubnet's protocol number (44): an operator's route to a cluster CIDR is neither
replaced by the agent's set-up nor deleted by `leave`'s teardown, even when it points at the same router."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator

import pytest

from tests.netns.node.support import drop_ns, make_ns, nsrun
from tests.support.prereq import need, need_root_netns
from tests.support.records import node_json

pytestmark = pytest.mark.netns
SCRIPT = """
import sys
from ipaddress import IPv4Address, IPv4Network
from hubnet.node.agent import netsetup
from hubnet.node.agent.state import NodeNetwork
cidrs = (IPv4Network("10.244.0.0/16"), IPv4Network("10.245.0.0/16"))
network = NodeNetwork.build([IPv4Network("10.244.12.0/24")], cidrs, [IPv4Address("192.168.77.1")])
getattr(netsetup, sys.argv[1])(network, "v-net-0")
"""


@pytest.fixture
def node_ns() -> Iterator[str]:
    need_root_netns()
    need(shutil.which("nft") is not None, "needs nftables (`nft`)")
    ns = make_ns("node")
    try:
        nsrun(ns, "ip", "link", "add", "hnt-u0", "type", "veth", "peer", "name", "hnt-u1")
        nsrun(ns, "ip", "link", "set", "hnt-u1", "up")
        nsrun(ns, "ip", "addr", "add", "192.168.77.11/24", "dev", "hnt-u0")
        nsrun(ns, "ip", "link", "set", "hnt-u0", "up")
        yield ns
    finally:
        drop_ns(ns)


def _routes(ns: str) -> list[str]:
    out = nsrun(ns, "ip", "-N", "-4", "route", "show").stdout  # -N: protocol numbers, not names
    return [" ".join(line.split()) for line in out.splitlines()]


def test_cluster_routes_are_ours_by_protocol_and_a_foreign_one_is_untouched(node_ns: str) -> None:
    foreign = "10.245.0.0/16 via 192.168.77.1 dev hnt-u0"  # plain `ip route add`: proto boot (not printed)
    nsrun(node_ns, "ip", "route", "add", "10.245.0.0/16", "via", "192.168.77.1")
    nsrun(node_ns, sys.executable, "-c", SCRIPT, "ensure")
    routes = _routes(node_ns)
    assert "10.244.0.0/16 via 192.168.77.1 dev hnt-u0 proto 44" in routes, routes
    assert foreign in routes, routes  # not replaced by ours
    nsrun(node_ns, sys.executable, "-c", SCRIPT, "ensure")  # idempotent
    assert _routes(node_ns) == routes
    nsrun(node_ns, sys.executable, "-c", SCRIPT, "teardown")
    routes = _routes(node_ns)
    assert not any(r.startswith("10.244.0.0/16") for r in routes), routes
    assert foreign in routes, routes  # same prefix and next hop, other protocol: not ours, not deleted


FROM_RECORD = """
import json, sys
from hubnet.wire import Node
from hubnet.node.agent import netsetup
from hubnet.node.agent.state import NodeNetwork
network = NodeNetwork.from_record(Node.from_json(json.loads(sys.argv[2])))
getattr(netsetup, sys.argv[1])(network, "v-net-0")
"""


def test_the_node_marks_its_routes_with_the_controllers_protocol_number(node_ns: str) -> None:
    """A controller run with HUBNET_ROUTE_PROTO=77 sends `route_proto: 77`: the node's routes carry 77, and a route
    with 44 (hubnet's default, here another owner's) is neither replaced nor deleted."""
    record = node_json(
        subnet="10.244.12.0/24",
        gateway="10.244.12.1",
        cluster_cidrs=["10.244.0.0/16", "10.245.0.0/16"],
        router_address="192.168.77.1",
        route_proto=77,
    )
    nsrun(node_ns, "ip", "route", "add", "10.245.0.0/16", "via", "192.168.77.1", "proto", "44")
    nsrun(node_ns, sys.executable, "-c", FROM_RECORD, "ensure", json.dumps(record))
    routes = _routes(node_ns)
    assert "10.244.0.0/16 via 192.168.77.1 dev hnt-u0 proto 77" in routes, routes
    assert "10.245.0.0/16 via 192.168.77.1 dev hnt-u0 proto 44" in routes, routes
    nsrun(node_ns, sys.executable, "-c", FROM_RECORD, "teardown", json.dumps(record))
    routes = _routes(node_ns)
    assert not any(r.startswith("10.244.0.0/16") for r in routes), routes
    assert "10.245.0.0/16 via 192.168.77.1 dev hnt-u0 proto 44" in routes, routes


def _routes6(ns: str) -> list[str]:
    out = nsrun(ns, "ip", "-N", "-6", "route", "show").stdout
    return [" ".join(line.split()) for line in out.splitlines()]


def test_a_dual_stack_record_routes_each_cluster_cidr_via_the_routers_address_of_its_family(node_ns: str) -> None:
    """The agent is handed the controller's dual-stack answer (wire.Node lists): the bridge carries both gateways,
    each family's cluster CIDR goes via that family's router address with the controller's protocol, masquerade
    per family; teardown removes all of it, and leaves an operator's IPv6 route alone."""
    nsrun(node_ns, "ip", "addr", "add", "fd00:77::11/64", "dev", "hnt-u0", "nodad")
    record = node_json(
        subnet="10.244.12.0/24",
        gateway="10.244.12.1",
        subnets=["10.244.12.0/24", "fd00:10:244:12::/64"],
        gateways=["10.244.12.1", "fd00:10:244:12::1"],
        cluster_cidrs=["10.244.0.0/16", "fd00:10:244::/56", "fd00:10:245::/56"],
        router_address="192.168.77.1",
        router_addresses=["192.168.77.1", "fd00:77::1"],
        addresses=["192.168.77.11", "fd00:77::11"],
        route_proto=77,
    )
    nsrun(node_ns, "ip", "-6", "route", "add", "fd00:10:245::/56", "via", "fd00:77::1")  # an operator's (boot)
    nsrun(node_ns, sys.executable, "-c", FROM_RECORD, "ensure", json.dumps(record))
    routes, routes6 = _routes(node_ns), _routes6(node_ns)
    assert "10.244.0.0/16 via 192.168.77.1 dev hnt-u0 proto 77" in routes, routes
    assert "fd00:10:244::/56 via fd00:77::1 dev hnt-u0 proto 77 metric 1024 pref medium" in routes6, routes6
    assert "fd00:10:245::/56 via fd00:77::1 dev hnt-u0 metric 1024 pref medium" in routes6, routes6
    bridge = nsrun(node_ns, "ip", "-6", "addr", "show", "dev", "v-net-0", "scope", "global").stdout
    assert "inet6 fd00:10:244:12::1/64 scope global nodad" in " ".join(bridge.split()), bridge
    assert "tentative" not in bridge
    assert nsrun(node_ns, "sysctl", "-n", "net.ipv6.conf.all.forwarding").stdout.strip() == "1"
    assert "ip6 saddr fd00:10:244:12::/64" in nsrun(node_ns, "nft", "list", "table", "ip6", "hubnet").stdout
    nsrun(node_ns, sys.executable, "-c", FROM_RECORD, "ensure", json.dumps(record))  # idempotent
    assert (_routes(node_ns), _routes6(node_ns)) == (routes, routes6)
    nsrun(node_ns, sys.executable, "-c", FROM_RECORD, "teardown", json.dumps(record))
    routes6 = _routes6(node_ns)
    assert not any(r.startswith("fd00:10:244::/56") for r in routes6), routes6
    assert not any(r.startswith("10.244.0.0/16") for r in _routes(node_ns))
    assert "fd00:10:245::/56 via fd00:77::1 dev hnt-u0 metric 1024 pref medium" in routes6, routes6
    assert nsrun(node_ns, "nft", "list", "tables").stdout.strip() == ""


def test_an_older_controllers_record_is_ipv4_only_as_before(node_ns: str) -> None:
    """No lists in the answer (a controller older than dual-stack): the singular fields, IPv4 only, no ip6 table,
    IPv6 forwarding left as it was."""
    before = nsrun(node_ns, "sysctl", "-n", "net.ipv6.conf.all.forwarding").stdout.strip()
    record = node_json(subnet="10.244.12.0/24", gateway="10.244.12.1", router_address="192.168.77.1")
    nsrun(node_ns, sys.executable, "-c", FROM_RECORD, "ensure", json.dumps(record))
    assert "10.244.0.0/16 via 192.168.77.1 dev hnt-u0 proto 44" in _routes(node_ns)
    assert nsrun(node_ns, "nft", "list", "tables").stdout.strip() == "table ip hubnet"
    assert nsrun(node_ns, "sysctl", "-n", "net.ipv6.conf.all.forwarding").stdout.strip() == before
    assert nsrun(node_ns, "ip", "-6", "addr", "show", "dev", "v-net-0", "scope", "global").stdout.strip() == ""
