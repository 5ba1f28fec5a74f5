"""hubnet's dual-stack ADD against the reference CNI plugins — `bridge` + `host-local` with the same two ranges
(`"ranges": [[{"subnet": v4}], [{"subnet": v6}]]`, Debian's containernetworking-plugins in /usr/lib/cni) — field by
field: the ADD result, and the pod's interface, addresses, routes and sysctls as the kernel shows them.

Each side runs on a node namespace of its own with the same bridge name and the same subnets, so everything that is
not listed below must be identical. The differences that are deliberate (hubnet's choices):

- host veth name: hubnet derives it from (containerID, ifname) (`veth` + 11 hex digits) so DEL, GC and the start-up
  sweep find it with no other record; the reference picks a random `veth` + 8 hex digits;
- MAC addresses (bridge, host veth, pod end): random on both sides; the sandbox path is each side's own pod netns;
- the pod's IPv6 address carries IFA_F_NODAD (`nodad`): the reference adds it plainly and relies on accept_dad=0
  alone; hubnet sets both, so the address can never be `tentative` whatever the interface's sysctls say;
- route protocol of the default routes: `static` (pyroute2's default for a route someone configured, hubnet's IPv4
  routes have always carried it) against the reference's `boot`; same destination, gateway, device, metric;
- `net.ipv4.conf.eth0.arp_notify`: the reference sets 1 (a gratuitous ARP when the link comes up, to refresh caches
  holding the address's old MAC); hubnet leaves the default 0: its IPAM is round-robin, an address is not handed
  out again while others are free, so no cache holds it, and setting it would cost IPv4-only pods a trip into
  their namespace;
- the host veth end has IPv6 disabled (no link-local address): it is a layer-2 bridge port, and with IPv6
  forwarding on, an IPv6-enabled port makes its deletion ~16 ms slower (DEL: ~36 ms instead of ~20);
- txqlen of the veth ends: the kernel's default (1000) against the reference's 0 — both use the `noqueue` qdisc,
  so the length is never used.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.netns.node.support import Node, drop_ns, make_ns, nsrun
from tests.support.prereq import need, need_root_netns

pytestmark = pytest.mark.netns
REF_DIR = "/usr/lib/cni"
V4, V6 = "10.244.11.0/24", "fd00:10:244:11::/64"
VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]  # every version both plugins speak (the reference stops at 1.0.0)


class Reference:
    """The reference bridge + host-local on a node namespace of their own, configured as hubnet's node is."""

    def __init__(self) -> None:
        self.ns = make_ns("refnode")
        self.data = tempfile.mkdtemp(prefix="hnt-hostlocal-")
        self.pods: list[str] = []

    def config(self, version: str) -> dict[str, Any]:
        return {
            "cniVersion": version,
            "name": "hubnet",
            "type": "bridge",
            "bridge": "v-net-0",
            "isGateway": True,
            "isDefaultGateway": True,  # a default route per family via the gateways, as hubnet's first attachment
            "ipMasq": False,  # hubnet masquerades per node, not per pod
            "ipam": {"type": "host-local", "ranges": [[{"subnet": V4}], [{"subnet": V6}]], "dataDir": self.data},
        }

    def run(self, command: str, cid: str, pod: str, version: str) -> dict[str, Any] | None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": cid,
            "CNI_NETNS": pod,
            "CNI_IFNAME": "eth0",
            "CNI_PATH": REF_DIR,
        }
        proc = subprocess.run(
            ["nsenter", f"--net={self.ns}", os.path.join(REF_DIR, "bridge")],
            input=json.dumps(self.config(version)), env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads(proc.stdout) if proc.stdout.strip() else None

    def destroy(self) -> None:
        for pod in self.pods:
            drop_ns(pod)
        drop_ns(self.ns)
        shutil.rmtree(self.data, ignore_errors=True)


@pytest.fixture(scope="module")
def sides() -> Iterator[tuple[Node, Reference]]:
    need_root_netns()
    need(shutil.which("nft") is not None, "needs nftables (`nft`)")
    need(os.access(os.path.join(REF_DIR, "bridge"), os.X_OK), f"needs the reference CNI plugins in {REF_DIR}")
    node, ref = Node(subnet=V4, subnet6=V6), Reference()
    try:
        node.create()
        yield node, ref
    finally:
        node.destroy()
        ref.destroy()


def _hubnet(node: Node, command: str, cid: str, pod: str, version: str) -> dict[str, Any] | None:
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": pod, "CNI_IFNAME": "eth0", "CNI_PATH": node.bin}
    status, out = node.exec_plugin(env, json.dumps(node.plugin_config(cniVersion=version)))
    assert status == 0, out
    return out  # type: ignore[no-any-return]


def _result(result: dict[str, Any] | None, pod: str) -> dict[str, Any]:
    """The result with the deliberate differences masked: host veth name, MACs, the sandbox path."""
    assert result is not None
    out = json.loads(json.dumps(result))
    for iface in out["interfaces"]:
        assert "mac" in iface
        iface["mac"] = "<mac>"
    host = out["interfaces"][1]
    assert host["name"].startswith("veth") and "sandbox" not in host
    host["name"] = "<host veth>"
    assert out["interfaces"][2].pop("sandbox") == pod
    return out


def _pod_link(pod: str) -> dict[str, Any]:
    """eth0 as `ip -j -d addr` shows it: link facts that must match, and its addresses but the link-local one (its
    interface identifier comes from the MAC) with the deliberate `nodad` masked."""
    link = json.loads(nsrun(pod, "ip", "-j", "-d", "addr", "show", "dev", "eth0").stdout)[0]
    addresses = []
    for a in link["addr_info"]:
        if a.get("scope") == "link":
            assert a["family"] == "inet6" and not a.get("tentative"), a  # accept_dad=0 on both sides
            continue
        if a["family"] == "inet6":
            a.pop("nodad", None)
        addresses.append(a)
    keep = ("ifname", "flags", "mtu", "qdisc", "operstate", "link_type", "broadcast", "min_mtu", "max_mtu")
    return {**{k: link.get(k) for k in keep}, "kind": link["linkinfo"]["info_kind"], "addresses": addresses}


def _pod_routes(pod: str) -> list[dict[str, Any]]:
    """Every route of the pod netns, both families, every table; the link-local local route (MAC-derived) and the
    deliberate protocol of the default routes masked."""
    routes = json.loads(nsrun(pod, "ip", "-j", "-d", "route", "show", "table", "all").stdout)
    routes += json.loads(nsrun(pod, "ip", "-j", "-d", "-6", "route", "show", "table", "all").stdout)
    out = []
    for r in routes:
        if r.get("type") == "local" and r["dst"].startswith("fe80:"):
            continue
        if r["dst"] == "default":
            assert r["protocol"] in ("static", "boot"), r
            r["protocol"] = "<default route protocol>"
        out.append(r)
    return sorted(out, key=json.dumps)


def _sysctls(pod: str) -> dict[str, str]:
    names = ["ipv6/conf/eth0/accept_dad", "ipv6/conf/eth0/disable_ipv6", "ipv4/conf/eth0/arp_notify"]
    code = f"for n in {names!r}: print(n, open('/proc/sys/net/' + n).read().strip())"
    lines = nsrun(pod, "python3", "-c", code).stdout.splitlines()
    return dict(line.split() for line in lines)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_dual_stack_pod_is_what_the_reference_bridge_and_host_local_make_of_it(
    sides: tuple[Node, Reference], version: str
) -> None:
    node, ref = sides
    ours, theirs = node.new_pod_netns(), make_ns("refpod")
    ref.pods.append(theirs)
    cid = f"cmp{version.replace('.', '')}"
    got, want = _hubnet(node, "ADD", cid, ours, version), ref.run("ADD", cid, theirs, version)
    try:
        assert _result(got, ours) == _result(want, theirs)
        ips = [ipaddress.ip_interface(ip["address"]) for ip in got["ips"]]  # type: ignore[index]
        assert [str(ip.network) for ip in ips] == [V4, V6]  # one of each family, IPv4 first (round-robin: any host)
        assert _pod_link(ours) == _pod_link(theirs)
        assert _pod_routes(ours) == _pod_routes(theirs)
        mine, reference = _sysctls(ours), _sysctls(theirs)
        assert mine.pop("ipv4/conf/eth0/arp_notify") == "0" and reference.pop("ipv4/conf/eth0/arp_notify") == "1"
        assert mine == reference == {"ipv6/conf/eth0/accept_dad": "0", "ipv6/conf/eth0/disable_ipv6": "0"}
    finally:
        _hubnet(node, "DEL", cid, ours, version)
        ref.run("DEL", cid, theirs, version)
    # DEL: both release both families and remove the pod's interface
    assert node.reservations() == [] and node.reservations6() == []
    for pod in (ours, theirs):
        assert nsrun(pod, "ip", "link", "show", "eth0", check=False).returncode != 0


def test_the_bridge_carries_the_same_gateways_as_the_reference_and_hubnets_ipv6_one_is_usable_at_once(
    sides: tuple[Node, Reference],
) -> None:
    """Both bridges carry the first address of each range (the reference's after its first ADD); hubnet's IPv6
    gateway has no DAD (`nodad`, never `tentative`), the reference's goes through it (a second or more)."""
    node, ref = sides
    pod = make_ns("refpod")
    ref.pods.append(pod)
    ref.run("ADD", "gw", pod, "1.0.0")
    try:

        def gateways(ns: str) -> list[tuple[str, str, int, str | None]]:
            info = json.loads(nsrun(ns, "ip", "-j", "addr", "show", "dev", "v-net-0").stdout)[0]["addr_info"]
            return [(a["family"], a["local"], a["prefixlen"], a.get("broadcast")) for a in info if a["scope"] != "link"]

        assert (
            gateways(node.ns)
            == gateways(ref.ns)
            == [
                ("inet", "10.244.11.1", 24, "10.244.11.255"),
                ("inet6", "fd00:10:244:11::1", 64, None),
            ]
        )
        ours = json.loads(nsrun(node.ns, "ip", "-j", "-6", "addr", "show", "dev", "v-net-0", "scope", "global").stdout)
        assert ours[0]["addr_info"][0].get("nodad") and not ours[0]["addr_info"][0].get("tentative")
        for ns in (node.ns, ref.ns):
            assert nsrun(ns, "sysctl", "-n", "net.ipv6.conf.all.forwarding").stdout.strip() == "1"
            assert nsrun(ns, "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "1"
    finally:
        ref.run("DEL", "gw", pod, "1.0.0")
