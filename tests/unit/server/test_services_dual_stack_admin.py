"""What an admin sees of a dual-stack cluster, against the in-memory unit of work: the node record's lists and
flags per family, pools of both families (add, list, delete), lookup of IPv6 addresses, readiness warnings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from ipaddress import IPv4Network, ip_network
from typing import Any

import pytest

from hubnet.server.db.memory import MemoryDatabase
from hubnet.server.domain.errors import InvalidInput, NotFound, PoolInUse, PoolOverlaps, UnderlayInPool
from hubnet.server.services import integrity, node_reads, nodes, pools
from hubnet.server.services.context import Controller
from tests.unit.server.fakes import ADMIN, BOOT, Clock, memory_controller, settings

SECRET = "s" * 48
DUAL = {
    "cluster_cidr": "10.244.0.0/16,fd00:10:244::/56",
    "router_address": "192.168.255.254,fd00:ff::fe",
    "service_cidr": "10.96.0.0/12,fd00:10:96::/112",
}


@pytest.fixture
def dual() -> Iterator[Controller]:
    with memory_controller(Clock(), **DUAL) as ctl:
        pools.ensure_pools(ctl)  # as at start-up: one pool per configured family
        yield ctl


def join(ctl: Controller, name: str, *addresses: str) -> Any:
    view, _ = nodes.register(
        ctl, token=BOOT, name=name, address=addresses[0], secret=SECRET + name, machine_id=None, addresses=[*addresses]
    )
    return view


def rows(ctl: Controller) -> dict[str, Any]:
    assert isinstance(ctl.db, MemoryDatabase)
    return {row.node.name: row for row in ctl.db.state.nodes.values()}


def edit_row(ctl: Controller, name: str, **values: Any) -> None:
    """Change a stored row by hand (what an admin's UPDATE would do), bypassing every check."""
    assert isinstance(ctl.db, MemoryDatabase)
    row = rows(ctl)[name]
    ctl.db.state.nodes[row.node.id] = replace(row, node=replace(row.node, **values))


def test_a_dual_stack_node_shows_both_families_ipv4_first(dual: Controller) -> None:
    join(dual, "ds-a", "fd00:1::11", "192.168.1.11")  # IPv6 listed first: the record still puts IPv4 first
    view = node_reads.get(dual, token=ADMIN, name="ds-a")
    assert view.addresses == ["192.168.1.11", "fd00:1::11"]
    assert view.subnets == ["10.244.0.0/24", "fd00:10:244::/64"]
    assert view.gateways == ["10.244.0.1", "fd00:10:244::1"]
    assert view.router_addresses == ["192.168.255.254", "fd00:ff::fe"]
    assert view.cluster_cidrs == ["10.244.0.0/16", "fd00:10:244::/56"]

    # the singular fields are the first of each list: an older client reads the IPv4 record it always did
    assert (view.address, view.subnet, view.gateway, view.router_address) == (
        "192.168.1.11",
        "10.244.0.0/24",
        "10.244.0.1",
        "192.168.255.254",
    )
    assert view.flags == []


def test_an_ipv6_only_node_has_ipv6_singular_fields_and_only_the_ipv6_router(dual: Controller) -> None:
    join(dual, "v6-a", "fd00:1::12")
    view = node_reads.get(dual, token=ADMIN, name="v6-a")
    assert (view.address, view.subnet, view.gateway) == ("fd00:1::12", "fd00:10:244::/64", "fd00:10:244::1")
    assert view.router_addresses == ["fd00:ff::fe"] and view.router_address == "fd00:ff::fe"
    assert view.subnets == ["fd00:10:244::/64"] and view.flags == []


def test_an_ipv4_node_of_a_dual_stack_cluster_reads_as_before(dual: Controller) -> None:
    join(dual, "v4-a", "192.168.1.13")
    view = node_reads.get(dual, token=ADMIN, name="v4-a")
    assert (view.subnets, view.gateways, view.router_addresses) == (
        ["10.244.0.0/24"],
        ["10.244.0.1"],
        ["192.168.255.254"],
    )


FLAGGED_EDITS: dict[str, tuple[dict[str, Any], list[str], str | None]] = {
    # edit of the stored row, the flags, the primary gateway afterwards
    "IPv6 subnet outside every pool": ({"subnet6": "fd00:99::/64"}, ["subnet6-outside-pools"], "10.244.0.1"),
    "IPv6 subnet of the wrong length": ({"subnet6": "fd00:10:244::/60"}, ["subnet6-outside-pools"], "10.244.0.1"),
    "IPv6 subnet unparsable": ({"subnet6": "fd00:10:244::5/64"}, ["subnet6-unparsable"], "10.244.0.1"),
    "IPv4 text in the IPv6 column": ({"subnet6": "10.244.9.0/24"}, ["subnet6-unparsable"], "10.244.0.1"),
    "IPv6 address unparsable": ({"address6": "fd00:1::zz"}, ["address6-unparsable"], "10.244.0.1"),
    "IPv4 subnet unparsable, IPv6 fine": ({"subnet": "garbage"}, ["subnet-unparsable"], None),
    "both families outside": (
        {"subnet": "10.99.0.0/24", "subnet6": "fd00:99::/64"},
        ["subnet-outside-pools", "subnet6-outside-pools"],
        "10.99.0.1",
    ),
}


@pytest.mark.parametrize("case", list(FLAGGED_EDITS))
def test_bad_columns_of_either_family_are_flagged_and_served(dual: Controller, case: str) -> None:
    edit, flags, gateway = FLAGGED_EDITS[case]
    join(dual, "bad", "192.168.1.14", "fd00:1::14")
    edit_row(dual, "bad", **edit)
    view = node_reads.get(dual, token=ADMIN, name="bad")
    assert (view.flags, view.gateway) == (flags, gateway)
    _, flagged, _ = pools.list_pools(dual, token=ADMIN)
    assert [(f.name, f.flags) for f in flagged] == [("bad", flags)]
    assert flagged[0].subnets == rows(dual)["bad"].node.subnets
    assert flagged[0].addresses == rows(dual)["bad"].node.addresses


def test_ipv6_pools_add_list_and_delete(dual: Controller) -> None:
    added = pools.add_pool(dual, token=ADMIN, cidr="fd00:10:250::/56")
    assert (added.cidr, added.family, added.node_prefix, added.total, added.free) == (
        "fd00:10:250::/56",
        6,
        64,  # HUBNET_NODE_PREFIX_V6's default
        256,
        256,
    )
    narrow = pools.add_pool(dual, token=ADMIN, cidr="fd00:10:251::/60", node_prefix=72)
    assert (narrow.total, narrow.node_prefix) == (4096, 72)
    v4 = pools.add_pool(dual, token=ADMIN, cidr="10.250.0.0/16")
    assert (v4.family, v4.node_prefix) == (4, 24)
    usage, _, warnings = pools.list_pools(dual, token=ADMIN)
    assert [(p.cidr, p.family) for p in usage] == [
        ("10.244.0.0/16", 4),
        ("10.250.0.0/16", 4),
        ("fd00:10:244::/56", 6),
        ("fd00:10:250::/56", 6),
        ("fd00:10:251::/60", 6),
    ]
    assert warnings == []
    # the configured IPv6 pool's total excludes nothing (service CIDR and router lie outside it)
    assert next(p for p in usage if p.cidr == "fd00:10:244::/56").total == 256
    pools.delete_pool(dual, token=ADMIN, cidr="fd00:10:250::/56")
    assert "fd00:10:250::/56" not in [p.cidr for p in pools.list_pools(dual, token=ADMIN)[0]]
    with pytest.raises(NotFound):
        pools.delete_pool(dual, token=ADMIN, cidr="fd00:10:250::/56")


def test_an_ipv6_pool_counts_its_allocations(dual: Controller) -> None:
    for i in range(3):
        join(dual, f"c-{i}", f"192.168.1.{20 + i}", f"fd00:1::{20 + i}")
    usage = {p.cidr: p for p in pools.list_pools(dual, token=ADMIN)[0]}
    assert (usage["fd00:10:244::/56"].allocated, usage["fd00:10:244::/56"].free) == (3, 253)
    assert (usage["10.244.0.0/16"].allocated, usage["10.244.0.0/16"].free) == (3, 253)


BAD_IPV6_POOLS: dict[str, tuple[str, int | None, type[Exception], str]] = {
    "prefix longer than /126": ("fd00:10:250::/120", 127, InvalidInput, "node_prefix"),
    "prefix shorter than the pool": ("fd00:10:250::/56", 48, InvalidInput, "node_prefix"),
    "more than 65,536 node subnets": ("fd00:10:250::/48", 65, InvalidInput, "node_prefix"),
    "default /64 cuts a /40 into 2**24": ("fd00:10::/40", None, InvalidInput, "node_prefix"),
    "overlaps the configured IPv6 pool": ("fd00:10:244::/48", None, PoolOverlaps, "cidr"),
    "inside the IPv6 service CIDR": ("fd00:10:96::/120", 124, InvalidInput, "cidr"),
    "holds the router's IPv6 address": ("fd00:ff::/56", None, InvalidInput, "cidr"),
    "link-local": ("fe80::/56", None, InvalidInput, "cidr"),
    "with a zone": ("fd00:10:250::%eth0/56", None, InvalidInput, "cidr"),
    "host bits": ("fd00:10:250::1/56", None, InvalidInput, "cidr"),
}


@pytest.mark.parametrize("case", list(BAD_IPV6_POOLS))
def test_bad_ipv6_pools_are_refused_naming_the_field(dual: Controller, case: str) -> None:
    cidr, prefix, error, field = BAD_IPV6_POOLS[case]
    before = [p.cidr for p in pools.list_pools(dual, token=ADMIN)[0]]
    with pytest.raises(error) as caught:
        pools.add_pool(dual, token=ADMIN, cidr=cidr, node_prefix=prefix)
    assert caught.value.field == field  # type: ignore[attr-defined]
    assert [p.cidr for p in pools.list_pools(dual, token=ADMIN)[0]] == before


def test_an_ipv6_pool_holding_a_nodes_ipv6_address_is_refused(dual: Controller) -> None:
    join(dual, "u-1", "192.168.1.30", "fd00:77::30")
    with pytest.raises(UnderlayInPool) as caught:
        pools.add_pool(dual, token=ADMIN, cidr="fd00:77::/56")
    assert "fd00:77::30" in caught.value.detail


def test_an_ipv6_pool_is_in_use_while_a_live_node_holds_a_subnet_of_it() -> None:
    with memory_controller(Clock(), **{**DUAL, "cluster_cidr": "10.244.0.0/24,fd00:10:244::/64"}) as ctl:
        pools.ensure_pools(ctl)
        join(ctl, "first", "192.168.1.40", "fd00:1::40")
        pools.add_pool(ctl, token=ADMIN, cidr="fd00:10:250::/56")
        second = join(ctl, "second", "fd00:1::41")  # the configured /64 pool holds one subnet: full
        assert second.subnets == ["fd00:10:250::/64"]
        with pytest.raises(PoolInUse) as caught:
            pools.delete_pool(ctl, token=ADMIN, cidr="fd00:10:250::/56")
        assert caught.value.extra == {"live_nodes": 1}
        with pytest.raises(PoolInUse):
            pools.delete_pool(ctl, token=ADMIN, cidr="fd00:10:244::/64")  # configured
        nodes.delete(ctl, token=ADMIN, name="second")
        pools.delete_pool(ctl, token=ADMIN, cidr="fd00:10:250::/56")


def test_lookup_answers_addresses_of_both_families(dual: Controller) -> None:
    join(dual, "l-1", "192.168.1.50", "fd00:1::50")
    join(dual, "l-2", "192.168.1.51", "fd00:1::51")
    assert pools.lookup(dual, token=ADMIN, ip="fd00:10:244:1::7").name == "l-2"
    assert pools.lookup(dual, token=ADMIN, ip="FD00:10:244:0:0:0:0:1").name == "l-1"
    assert pools.lookup(dual, token=ADMIN, ip="10.244.1.7").name == "l-2"
    for nobody in ("fd00:10:244:2::1", "fd00:99::1", "10.244.9.1"):
        with pytest.raises(NotFound):
            pools.lookup(dual, token=ADMIN, ip=nobody)
    with pytest.raises(InvalidInput) as caught:
        pools.lookup(dual, token=ADMIN, ip="fd00:10:244::1%eth0")
    assert caught.value.field == "ip"


def test_lookup_of_a_family_without_pools_is_not_found() -> None:
    with memory_controller(Clock()) as ctl, pytest.raises(NotFound):  # IPv4 only
        pools.lookup(ctl, token=ADMIN, ip="fd00:10:244::1")


def test_a_configured_pool_that_could_not_be_added_is_a_readiness_warning() -> None:
    with memory_controller(Clock()) as v4:  # an IPv4 cluster whose admin added an IPv6 /48 at run time
        pools.add_pool(v4, token=ADMIN, cidr="fd00:10:244::/48", node_prefix=64)
        # ... restarted dual-stack with a /56 inside that /48: the configured pool is not added
        ctl = Controller(db=v4.db, settings=settings(**DUAL))
        pools.ensure_pools(ctl)
        found = ctl.read(lambda uow: pools.warnings(ctl, uow))
        assert found == [
            "HUBNET_CLUSTER_CIDR fd00:10:244::/56 is not a pool (see the start-up log): no IPv6 subnets from it"
        ]
        assert pools.list_pools(ctl, token=ADMIN)[2] == found
        ctl.close()


class Routes:
    """A route backend's drift report (the routes hubnet owns on the router)."""

    def __init__(self, actual: list[tuple[str, str]]) -> None:
        self.actual = actual

    def drift(self) -> dict[str, Any]:
        return {"actual": [{"prefix": p, "next_hop": h} for p, h in self.actual], "foreign": []}


def test_hubnet_check_covers_the_ipv6_rows_and_routes(dual: Controller) -> None:
    join(dual, "k-1", "192.168.1.60", "fd00:1::60")
    join(dual, "k-2", "192.168.1.61", "fd00:1::61")
    routes = Routes(
        [
            ("10.244.0.0/24", "192.168.1.60"),
            ("10.244.1.0/24", "192.168.1.61"),
            ("fd00:10:244::/64", "fd00:1::60"),
            ("fd00:10:244:1::/64", "fd00:1::99"),  # drifted next hop
            ("fd00:10:244:7::/64", "fd00:1::70"),  # nobody's
        ]
    )
    edit_row(dual, "k-2", subnet6="fd00:10:244::/64")  # a duplicate of k-1's
    report = integrity.run(dual, token=ADMIN, routes=routes, bridges=integrity.BridgeReports())
    found = sorted(f"{p.kind}:{p.node or p.subject}" for p in report.problems)
    assert found == [
        "route-orphan:fd00:10:244:1::/64",
        "route-orphan:fd00:10:244:7::/64",
        "subnet-overlap:k-2",
    ]
    assert report.as_dict()["checked"] == {"nodes": 2, "routes": 5, "bridges": 0}
    edit_row(dual, "k-2", subnet6="fd00:10:244:1::/64")
    report = integrity.run(dual, token=ADMIN, routes=routes, bridges=integrity.BridgeReports())
    assert sorted(f"{p.kind}:{p.node or p.subject}" for p in report.problems) == [
        "route-next-hop:k-2",
        "route-orphan:fd00:10:244:7::/64",
    ]


def test_an_ipv4_node_of_a_dual_stack_cluster_reads_as_before_dual_stack(dual: Controller) -> None:
    """An agent older than dual-stack (it registers one IPv4 address) parses every `cluster_cidrs` entry and the
    router address as IPv4: its record holds nothing of IPv6."""
    join(dual, "old-agent", "192.168.1.12")
    view = node_reads.get(dual, token=ADMIN, name="old-agent")
    assert view.cluster_cidrs == ["10.244.0.0/16"]
    assert view.router_addresses == ["192.168.255.254"] and view.router_address == "192.168.255.254"
    assert view.subnets == [view.subnet] and view.gateways == [view.gateway]
    for text in [*view.cluster_cidrs, view.subnet]:
        assert isinstance(ip_network(text), IPv4Network)
