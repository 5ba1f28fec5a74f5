"""hubnet.linux.routes directly: idempotent add/delete, EEXIST → replace only over our own route, withdraw by
(prefix, next hop, protocol), custom tables, batches larger than one send."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from hubnet.linux.routes import RouteOp, RouteTable
from tests.netns.routing.conftest import PROTO, Router

pytestmark = pytest.mark.netns

P = IPv4Network("10.244.40.0/24")


def hop(n: int) -> IPv4Address:
    return IPv4Address(f"192.168.1.{n}")


def test_add_is_idempotent_and_takes_over_only_our_own_route(router: Router) -> None:
    table = RouteTable(proto=PROTO, netns=router.ns)
    try:
        assert table.apply([RouteOp("add", P, hop(40))]) == {}
        assert table.apply([RouteOp("add", P, hop(40))]) == {}  # already there: success, no change
        # someone (a second controller, a race) left our route with another next hop: add → replace
        assert table.apply([RouteOp("add", P, hop(41))]) == {}
        assert [(r.prefix, r.next_hop) for r in table.owned()] == [(P, hop(41))]
    finally:
        table.close()
    assert router.not_ours() == router.foreign


def test_delete_is_idempotent_and_exact(router: Router) -> None:
    router.ip("route", "add", str(P), "via", "192.168.1.40", "proto", str(PROTO))
    router.ip("route", "append", str(P), "via", "192.168.1.40", "proto", "static")  # same hop, foreign proto
    before = router.not_ours()
    table = RouteTable(proto=PROTO, netns=router.ns)
    try:
        # (P via .99 proto ours) does not exist: nothing to withdraw, success, and P via .40 stays
        assert table.apply([RouteOp("delete", P, hop(99))]) == {}
        assert router.count_ours() == 1
        assert table.apply([RouteOp("delete", P, hop(40))]) == {}
        assert table.apply([RouteOp("delete", P, hop(40))]) == {}  # already gone: success
    finally:
        table.close()
    assert router.count_ours() == 0
    assert router.not_ours() == before  # the static route with the same prefix and next hop is untouched


def test_custom_table_and_multi_batch_apply(router: Router) -> None:
    table = RouteTable(proto=PROTO, table=1000, netns=router.ns, batch=64)
    try:
        assert table.owned() == []  # the table does not exist yet
        ops = [RouteOp("add", IPv4Network(f"10.244.{i}.0/24"), hop(10 + i % 200)) for i in range(250)]
        failed = table.apply([*ops, RouteOp("add", IPv4Network("10.244.250.0/24"), IPv4Address("10.9.9.9"))])
        assert list(failed) == [250] and "unreachable" in str(failed[250]).lower()  # mapped to the right op
        assert len(table.owned()) == 250
        assert router.count_ours() == 0  # main table untouched
        assert len(router.ip("route", "show", "table", "1000", "proto", str(PROTO)).splitlines()) == 250
        assert table.apply([RouteOp("delete", op.prefix, op.next_hop) for op in ops]) == {}
        assert table.owned() == []
    finally:
        table.close()
    assert router.not_ours() == router.foreign
