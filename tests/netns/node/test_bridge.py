"""The node network the agent builds, and its repair of a bridge left with a stale gateway (flannel #1850)."""

from __future__ import annotations

import signal

import pytest

from tests.netns.node.support import Node, nsrun

pytestmark = pytest.mark.netns


def test_bridge_forwarding_and_masquerade_table(fresh_node: Node) -> None:
    addrs = nsrun(fresh_node.ns, "ip", "-4", "-o", "addr", "show", "v-net-0").stdout
    assert "inet 10.244.9.1/24" in addrs and addrs.count("inet ") == 1
    assert nsrun(fresh_node.ns, "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "1"
    table = nsrun(fresh_node.ns, "nft", "list", "table", "ip", "hubnet").stdout
    assert "ip saddr 10.244.9.0/24 ip daddr != 10.244.0.0/16 masquerade" in table
    assert nsrun(fresh_node.ns, "nft", "list", "tables").stdout.strip() == "table ip hubnet"  # nothing else of ours


def test_restart_repairs_a_stale_gateway_and_keeps_pods(fresh_node: Node) -> None:
    pod = fresh_node.new_pod_netns()
    fresh_node.add("keep", pod)
    fresh_node.stop_agent(signal.SIGTERM)
    nsrun(fresh_node.ns, "ip", "addr", "del", "10.244.9.1/24", "dev", "v-net-0")
    nsrun(fresh_node.ns, "ip", "addr", "add", "10.244.99.1/24", "dev", "v-net-0")  # an old subnet's gateway
    fresh_node.start_agent()
    addrs = nsrun(fresh_node.ns, "ip", "-4", "-o", "addr", "show", "v-net-0").stdout
    assert "inet 10.244.9.1/24" in addrs and "10.244.99.1" not in addrs
    fresh_node.runtime.check("keep")  # the pod survived the restart: reservation, veth, address, route
    fresh_node.runtime.delete("keep")
    assert fresh_node.reservations() == [] and fresh_node.host_veths() == []


def test_status_is_50_without_the_bridge_and_0_after_repair(fresh_node: Node) -> None:
    from hubnet.node.runtime import PluginError

    fresh_node.runtime.status()
    nsrun(fresh_node.ns, "ip", "link", "del", "v-net-0")
    with pytest.raises(PluginError) as err:
        fresh_node.runtime.status()
    assert err.value.code == 50 and "bridge" in err.value.msg
    fresh_node.stop_agent(signal.SIGTERM)
    fresh_node.start_agent()  # start-up re-ensures the node network
    fresh_node.runtime.status()
