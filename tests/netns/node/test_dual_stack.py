"""Dual-stack nodes and pods through the installed plugin (docs/dual-stack.md "Node and pods"): the bridge carries a
gateway of each family, every pod an address and a default route of each, IPv6 usable the moment ADD returns,
pod to pod over both families without NAT; DEL, CHECK, GC and STATUS cover both; an IPv6-only node gives one family.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from hubnet.node.runtime import PluginError
from tests.netns.node.support import Node, nsrun, ping, tcp_probe
from tests.support.prereq import need, need_root_netns

pytestmark = pytest.mark.netns
SUBNET, SUBNET6 = "10.244.8.0/24", "fd00:10:244:8::/64"
GW, GW6 = "10.244.8.1", "fd00:10:244:8::1"


def _make(subnet: str, subnet6: str) -> Iterator[Node]:
    need_root_netns()
    need(shutil.which("nft") is not None, "needs nftables (`nft`)")
    node = Node(subnet=subnet, subnet6=subnet6)
    try:
        node.create()
        yield node
    finally:
        node.destroy()


@pytest.fixture(scope="module")
def dual() -> Iterator[Node]:
    yield from _make(SUBNET, SUBNET6)


@pytest.fixture
def v6only() -> Iterator[Node]:
    yield from _make("", "fd00:10:244:9::/64")


def _addrs(ns: str, dev: str) -> list[dict[str, Any]]:
    """`ip -j addr show dev` as (family, local, prefixlen, flags) facts, link-local left out."""
    out = json.loads(nsrun(ns, "ip", "-j", "addr", "show", "dev", dev).stdout)[0]["addr_info"]
    return [a for a in out if a.get("scope") != "link"]


def _ip(result: dict[str, Any], family: int) -> str:
    return next(ip["address"].split("/")[0] for ip in result["ips"] if (":" in ip["address"]) == (family == 6))


def test_the_bridge_has_a_gateway_of_each_family_ipv6_forwarding_and_masquerade_per_family(dual: Node) -> None:
    found = {(a["family"], a["local"], a["prefixlen"]) for a in _addrs(dual.ns, "v-net-0")}
    assert found == {("inet", GW, 24), ("inet6", GW6, 64)}
    gw6 = next(a for a in _addrs(dual.ns, "v-net-0") if a["family"] == "inet6")
    assert not gw6.get("tentative") and gw6.get("nodad"), gw6  # usable at once: no duplicate address detection
    assert nsrun(dual.ns, "sysctl", "-n", "net.ipv6.conf.all.forwarding").stdout.strip() == "1"
    assert nsrun(dual.ns, "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "1"
    v4 = nsrun(dual.ns, "nft", "list", "table", "ip", "hubnet").stdout
    v6 = nsrun(dual.ns, "nft", "list", "table", "ip6", "hubnet").stdout
    assert "ip saddr 10.244.8.0/24 ip daddr != 10.244.0.0/16 masquerade" in v4, v4
    assert "ip6 saddr fd00:10:244:8::/64 ip6 daddr != fd00:10:244::/56 masquerade" in v6, v6
    tables = nsrun(dual.ns, "nft", "list", "tables").stdout.split("\n")
    assert sorted(t for t in tables if t) == ["table ip hubnet", "table ip6 hubnet"]  # nothing else of ours


def test_a_pod_gets_an_address_and_a_default_route_of_each_family_usable_at_once(dual: Node) -> None:
    a, b = dual.new_pod_netns(), dual.new_pod_netns()
    ra = dual.add("d1", a)
    try:
        # Right after ADD: the IPv6 address is not tentative and the gateway answers (no DAD wait, no retry).
        facts = {(x["family"], x["local"], x["prefixlen"]): x for x in _addrs(a, "eth0")}
        v6 = facts[("inet6", _ip(ra, 6), 64)]
        assert not v6.get("tentative") and not v6.get("dadfailed"), v6
        echo = ping(a, GW6)
        assert echo.returncode == 0, echo.stdout + echo.stderr
        assert set(facts) == {("inet", _ip(ra, 4), 24), ("inet6", _ip(ra, 6), 64)}
        assert nsrun(a, "sysctl", "-n", "net.ipv6.conf.eth0.accept_dad").stdout.strip() == "0"
        assert f"default via {GW} dev eth0" in nsrun(a, "ip", "-4", "route").stdout
        assert f"default via {GW6} dev eth0" in nsrun(a, "ip", "-6", "route").stdout
        assert [ip["address"] for ip in ra["ips"]] == [f"{_ip(ra, 4)}/24", f"{_ip(ra, 6)}/64"]  # IPv4 first
        assert [ip["gateway"] for ip in ra["ips"]] == [GW, GW6]
        assert ra["routes"] == [{"dst": "0.0.0.0/0", "gw": GW}, {"dst": "::/0", "gw": GW6}]
        rb = dual.add("d2", b)
        # pod to pod over each family, and to the gateway: the far end sees the sender's own address (no NAT)
        assert tcp_probe(a, b, _ip(rb, 6)) == _ip(ra, 6)
        assert tcp_probe(b, a, _ip(ra, 4), port=7072) == _ip(rb, 4)
        assert tcp_probe(b, dual.ns, GW6, port=7071) == _ip(rb, 6)
        assert len(dual.reservations()) == 2 and len(dual.reservations6()) == 2
        for veth in dual.host_veths():  # layer-2 bridge ports: no IPv6 of their own (see podnet: cheaper DEL)
            assert nsrun(dual.ns, "ip", "-6", "addr", "show", "dev", veth).stdout.strip() == ""
            assert nsrun(dual.ns, "sysctl", "-n", f"net.ipv6.conf.{veth}.disable_ipv6").stdout.strip() == "1"
        dual.runtime.check("d1")
        dual.runtime.check("d2")
    finally:
        dual.runtime.delete("d1")
        if dual.runtime.cached("d2") is not None:
            dual.runtime.delete("d2")
    assert dual.reservations() == [] and dual.reservations6() == [] and dual.host_veths() == []


@pytest.mark.parametrize("version", ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
def test_every_result_version_carries_both_ips(dual: Node, version: str) -> None:
    pod = dual.new_pod_netns()
    cid = f"v{version.replace('.', '')}"
    env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": cid, "CNI_NETNS": pod, "CNI_IFNAME": "eth0", "CNI_PATH": dual.bin}
    cfg = json.dumps(dual.plugin_config(cniVersion=version))
    status, out = dual.exec_plugin(env, cfg)
    try:
        assert status == 0, out
        assert [ip.get("version") for ip in out["ips"]] == (["4", "6"] if version < "1.0.0" else [None, None])
        assert [out["interfaces"][ip["interface"]]["name"] for ip in out["ips"]] == ["eth0", "eth0"]
        assert [ip["gateway"] for ip in out["ips"]] == [GW, GW6]
        assert [r["dst"] for r in out["routes"]] == ["0.0.0.0/0", "::/0"]
    finally:
        status, _ = dual.exec_plugin({**env, "CNI_COMMAND": "DEL"}, cfg)
        assert status == 0
    assert dual.reservations() == [] and dual.reservations6() == []


@pytest.mark.parametrize(
    "damage",
    [
        ["ip", "-6", "addr", "flush", "dev", "eth0", "scope", "global"],
        ["ip", "-6", "route", "del", "default"],
    ],
    ids=["ipv6 address removed", "ipv6 default route removed"],
)
def test_check_covers_the_ipv6_half(dual: Node, damage: list[str]) -> None:
    pod = dual.new_pod_netns()
    dual.add("chk6", pod)
    try:
        dual.runtime.check("chk6")
        nsrun(pod, *damage)
        with pytest.raises(PluginError) as err:
            dual.runtime.check("chk6")
        assert err.value.code == 103 and "fd00:10:244:8::" in err.value.msg, err.value
        assert len(dual.reservations6()) == 1  # CHECK changes nothing
    finally:
        dual.runtime.delete("chk6")
    assert dual.reservations() == [] and dual.reservations6() == []


def test_a_secondary_attachment_keeps_the_primary_default_route_of_both_families(dual: Node) -> None:
    pod = dual.new_pod_netns()
    dual.add("sec", pod)
    try:
        second = dual.add("sec", pod, ifname="net1")
        assert second["routes"] == [] and len(second["ips"]) == 2
        assert f"default via {GW6} dev eth0" in nsrun(pod, "ip", "-6", "route").stdout
        dual.runtime.check("sec", ifname="net1")
        dual.runtime.delete("sec", ifname="net1")
        assert f"default via {GW6} dev eth0" in nsrun(pod, "ip", "-6", "route").stdout
    finally:
        dual.runtime.delete("sec")
    assert dual.reservations() == [] and dual.reservations6() == []


def test_gc_frees_both_families_and_status_wants_both_gateways(dual: Node) -> None:
    keep, gone = dual.new_pod_netns(), dual.new_pod_netns()
    dual.add("gckeep", keep)
    dual.add("gcgone", gone)
    try:
        dual.runtime.gc([("gckeep", "eth0")])
        assert len(dual.reservations()) == 1 and len(dual.reservations6()) == 1
        assert len(dual.host_veths()) == 1
        dual.runtime.status()
        nsrun(dual.ns, "ip", "-6", "addr", "del", f"{GW6}/64", "dev", "v-net-0")
        with pytest.raises(PluginError) as err:
            dual.runtime.status()
        assert err.value.code == 50 and "gateway" in err.value.msg
    finally:
        nsrun(dual.ns, "ip", "-6", "addr", "replace", f"{GW6}/64", "dev", "v-net-0", "nodad", check=False)
        dual.runtime.delete("gckeep")
        if dual.runtime.cached("gcgone") is not None:
            dual.runtime.delete("gcgone")
    assert dual.reservations() == [] and dual.reservations6() == []


def test_an_ipv6_only_node_gives_one_family(v6only: Node) -> None:
    pod = v6only.new_pod_netns()
    result = v6only.add("only6", pod)
    try:
        assert [ip["address"] for ip in result["ips"]] == ["fd00:10:244:9::2/64"]
        assert result["routes"] == [{"dst": "::/0", "gw": "fd00:10:244:9::1"}]
        assert nsrun(pod, "ip", "-4", "addr", "show", "eth0").stdout.strip() == ""
        assert nsrun(pod, "ip", "-4", "route").stdout.strip() == ""
        assert ping(pod, "fd00:10:244:9::1").returncode == 0
        assert [a["local"] for a in _addrs(v6only.ns, "v-net-0")] == ["fd00:10:244:9::1"]
        assert nsrun(v6only.ns, "nft", "list", "tables").stdout.split() == ["table", "ip6", "hubnet"]
        v6only.runtime.check("only6")
        v6only.runtime.status()
    finally:
        v6only.runtime.delete("only6")
    assert v6only.reservations6() == [] and v6only.host_veths() == []


@pytest.fixture
def fresh_dual() -> Iterator[Node]:
    yield from _make("10.244.13.0/24", "fd00:10:244:13::/64")


def test_with_the_agent_down_del_and_gc_release_both_families_and_the_sweep_finds_the_veth(fresh_dual: Node) -> None:
    """The shim answers DEL and GC itself from every store the conflist names (`ipamDirs`); the restarted agent's
    start-up sweep keeps the ports of both stores' reservations and removes the orphaned one."""
    node = fresh_dual
    pods = [node.new_pod_netns() for _ in range(3)]
    for n, pod in enumerate(pods):
        node.add(f"down{n}", pod)
    assert len(node.reservations()) == 3 and len(node.reservations6()) == 3
    node.stop_agent(signal.SIGKILL)
    node.runtime.delete("down0")  # the shim: both reservations released, the veth stays until the sweep
    assert len(node.reservations()) == 2 and len(node.reservations6()) == 2
    node.runtime.gc([("down1", "eth0")])  # the shim's GC: down2 freed in both stores
    assert len(node.reservations()) == 1 and len(node.reservations6()) == 1
    node.start_agent()
    assert len(node.host_veths()) == 1  # down0's and down2's ports swept, down1's kept
    node.runtime.check("down1")
    node.runtime.delete("down1")
    assert node.reservations() == [] and node.reservations6() == [] and node.host_veths() == []


def test_check_of_a_pod_attached_before_the_node_had_ipv6(dual: Node) -> None:
    """A node that gained its IPv6 subnet (a re-join added the family) keeps pods attached before, with IPv4 only:
    their prevResult holds no IPv6 address and there is no IPv6 reservation. CHECK passes on the IPv4 half rather
    than failing every such pod; it still fails when the IPv4 half is damaged."""
    pod = dual.new_pod_netns()
    dual.add("pre6", pod)
    try:
        # Make it the pod of an IPv4-only node: no IPv6 address, route, reservation or result entry.
        nsrun(pod, "ip", "-6", "route", "del", "default")
        nsrun(pod, "ip", "-6", "addr", "flush", "dev", "eth0", "scope", "global")
        for name in dual.reservations6():
            os.unlink(os.path.join(dual.ipam_dir6, name))
        config, _ = dual.runtime._stdin()
        path = dual.runtime._cache_path(config["name"], "pre6", "eth0")
        with open(path) as fh:
            entry = json.load(fh)
        result = entry["result"]
        result["ips"] = [ip for ip in result["ips"] if ":" not in ip["address"]]
        result["routes"] = [r for r in result.get("routes", []) if ":" not in r["dst"]]
        with open(path, "w") as fh:
            json.dump(entry, fh)
        dual.runtime.check("pre6")
        nsrun(pod, "ip", "-4", "addr", "flush", "dev", "eth0")
        with pytest.raises(PluginError) as err:
            dual.runtime.check("pre6")
        assert err.value.code == 103
    finally:
        dual.runtime.delete("pre6")
    assert dual.reservations() == [] and dual.reservations6() == []
