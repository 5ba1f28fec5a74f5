"""Parallel ADD/DEL on one node, and pool exhaustion with STATUS."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from hubnet.node.runtime import PluginError
from tests.netns.node.support import Node

pytestmark = pytest.mark.netns

PODS_NS = 8  # attachments are spread over a few pod namespaces (distinct container ids, one ifname each)


def _add_many(node: Node, count: int, workers: int = 32) -> list[str]:
    spaces = [node.new_pod_netns() for _ in range(PODS_NS)]

    def one(i: int) -> str:
        result = node.runtime.add(f"c{i}", spaces[i % PODS_NS], f"e{i}")
        return str(result["ips"][0]["address"])

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(count)))


def _del_many(node: Node, count: int, workers: int = 32) -> None:
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda i: node.runtime.delete(f"c{i}", ifname=f"e{i}"), range(count)))


def test_200_parallel_adds_get_distinct_addresses_and_parallel_dels_free_all(node: Node) -> None:
    addresses = _add_many(node, 200)
    assert len(set(addresses)) == 200
    assert len(node.reservations()) == 200
    assert len(node.host_veths()) == 200
    _del_many(node, 200)
    assert node.reservations() == []
    assert node.host_veths() == []


def test_exhaustion_exactly_253_then_status(node: Node) -> None:
    addresses = _add_many(node, 253)
    try:
        assert len(set(addresses)) == 253
        assert all(a.endswith("/24") and a.split("/")[0] not in ("10.244.7.1", "10.244.7.255") for a in addresses)
        with pytest.raises(PluginError) as err:
            node.runtime.add("one-too-many", node.new_pod_netns(), "eth0")
        assert err.value.code == 100 and "no free address" in err.value.msg
        assert len(node.reservations()) == 253
        with pytest.raises(PluginError) as status:
            node.runtime.status()
        assert status.value.code == 50
        node.runtime.delete("c0", ifname="e0")
        node.runtime.status()  # 0 again
    finally:
        _del_many(node, 253)
    assert node.reservations() == [] and node.host_veths() == []
