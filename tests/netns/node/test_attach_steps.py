"""podnet.attach / detach step by step, in-process on a thread inside a throwaway node namespace: what one ADD
leaves right after it returns, that a failure at each of its netlink steps leaves no link in either namespace,
and that DEL's early return (at the kernel's announcement) leaves nothing visible behind."""

from __future__ import annotations

import errno
import json
import time
from collections.abc import Callable, Iterator
from ipaddress import ip_address, ip_interface
from typing import Any, TypeVar

import pytest

from hubnet.linux import addresses, links, netns, rtnl
from hubnet.linux.errors import AlreadyExists, LinuxError
from hubnet.node.agent import podnet
from tests.netns.node.support import drop_ns, make_ns, nsrun
from tests.support.prereq import need_root_netns

pytestmark = pytest.mark.netns
T = TypeVar("T")
BRIDGE = "hnt-stepbr0"
V4 = podnet.PodAddress(ip_interface("10.246.3.5/24"), ip_address("10.246.3.1"))
V6 = podnet.PodAddress(ip_interface("fd00:246:3::5/64"), ip_address("fd00:246:3::1"))


class Bench:
    """A node namespace with a bridge, pod namespaces on demand; `run` runs a function inside the node netns."""

    def __init__(self) -> None:
        self.node = make_ns("step-node")
        self.pods: list[str] = []
        with netns.handle(self.node) as h:
            self.bridge = links.ensure_bridge(h, BRIDGE)
            addresses.add(h, self.bridge, ip_interface("10.246.3.1/24"))

    def run(self, fn: Callable[[], T]) -> T:
        return netns.run_in(self.node, fn)

    def pod(self) -> str:
        self.pods.append(make_ns("step-pod"))
        return self.pods[-1]

    def attach(self, pod: str, cid: str, addrs: list[podnet.PodAddress], ifname: str = "eth0") -> podnet.Attached:
        host = podnet.host_veth(cid, ifname)
        return self.run(
            lambda: podnet.attach(
                netns_path=pod,
                ifname=ifname,
                host=host,
                alias=podnet.tag(cid, ifname),
                bridge_index=self.bridge,
                pod_addresses=addrs,
            )
        )

    def destroy(self) -> None:
        for pod in self.pods:
            drop_ns(pod)
        drop_ns(self.node)


def links_of(path: str) -> dict[str, dict[str, Any]]:
    return {link["ifname"]: link for link in json.loads(nsrun(path, "ip", "-d", "-j", "link", "show").stdout)}


@pytest.fixture
def bench() -> Iterator[Bench]:
    need_root_netns()
    b = Bench()
    try:
        yield b
    finally:
        b.destroy()


@pytest.mark.parametrize("addrs", [[V4], [V4, V6]], ids=["ipv4", "dual"])
def test_everything_is_in_place_when_attach_returns(bench: Bench, addrs: list[podnet.PodAddress]) -> None:
    pod = bench.pod()
    made = bench.attach(pod, "c1", addrs)
    host = links_of(bench.node)[made.host]
    assert host["ifalias"] == "hubnet:c1/eth0" and host["master"] == BRIDGE
    assert host["address"] == made.host_mac and "UP" in host["flags"] and host["mtu"] == 1500
    eth0 = links_of(pod)["eth0"]
    assert eth0["address"] == made.pod_mac and "UP" in eth0["flags"] and eth0["mtu"] == 1500
    assert made.default_routes == {p.address.version for p in addrs}
    shown = nsrun(pod, "ip", "addr", "show", "eth0").stdout
    assert "inet 10.246.3.5/24 brd 10.246.3.255" in shown
    assert "default via 10.246.3.1 dev eth0 proto static" in nsrun(pod, "ip", "route").stdout
    if len(addrs) == 2:
        assert "inet6 fd00:246:3::5/64 scope global nodad" in shown
        # accept_dad=0 before up: the kernel's DAD work item marks the link-local usable at once (with DAD it would
        # stay tentative for a second or more)
        deadline = time.monotonic() + 0.3
        while "tentative" in nsrun(pod, "ip", "addr", "show", "eth0").stdout:
            assert time.monotonic() < deadline, "the link-local address went through DAD"
            time.sleep(0.01)
        assert "default via fd00:246:3::1 dev eth0" in nsrun(pod, "ip", "-6", "route").stdout
    assert bench.run(lambda: podnet.detach(made.host)) is True
    assert made.host not in links_of(bench.node) and "eth0" not in links_of(pod)


def test_a_second_attachment_keeps_the_netns_default_route(bench: Bench) -> None:
    pod = bench.pod()
    first = bench.attach(pod, "c2", [V4])
    second = bench.attach(pod, "c2", [podnet.PodAddress(ip_interface("10.246.3.6/24"), V4.gateway)], ifname="net1")
    assert first.default_routes == {4} and second.default_routes == frozenset()
    assert nsrun(pod, "ip", "route", "show", "default").stdout.count("default") == 1
    for made in (first, second):
        bench.run(lambda made=made: podnet.detach(made.host))


def test_a_taken_host_name_fails_the_create_and_the_holder_is_untouched(bench: Bench) -> None:
    pod = bench.pod()
    host = podnet.host_veth("c3", "eth0")
    nsrun(bench.node, "ip", "link", "add", host, "type", "veth", "peer", "name", "hnt-holder")
    nsrun(bench.node, "ip", "link", "set", host, "alias", "someone-else")
    with pytest.raises(AlreadyExists):
        bench.attach(pod, "c3", [V4])
    assert links_of(bench.node)[host]["ifalias"] == "someone-else"  # the alias went to no link but ours
    assert "eth0" not in links_of(pod)
    nsrun(bench.node, "ip", "link", "del", host)


def test_an_interface_taken_in_the_pod_is_interface_exists_and_leaves_no_host_end(bench: Bench) -> None:
    pod = bench.pod()
    nsrun(pod, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "hnt-other")
    with pytest.raises(podnet.InterfaceExists):
        bench.attach(pod, "c4", [V4])
    assert podnet.host_veth("c4", "eth0") not in links_of(bench.node)
    assert set(links_of(pod)) == {"lo", "eth0", "hnt-other"}


@pytest.mark.parametrize("addrs", [[V4], [V4, V6]], ids=["ipv4", "dual"])
def test_a_failure_in_the_pod_batch_is_named_and_removes_both_ends(
    bench: Bench, addrs: list[podnet.PodAddress]
) -> None:
    """The gateway is off the pod's subnet: the batch's route fails (the kernel goes on with the rest and reports
    it); the error names that route and the pair is gone from both namespaces."""
    pod = bench.pod()
    bad = [podnet.PodAddress(addrs[0].address, ip_address("10.9.9.9")), *addrs[1:]]
    with pytest.raises(LinuxError, match=r"add route 0.0.0.0/0 via 10.9.9.9"):
        bench.attach(pod, "c5", bad)
    assert podnet.host_veth("c5", "eth0") not in links_of(bench.node)
    assert set(links_of(pod)) == {"lo"}


def test_a_missing_pod_netns_fails_before_anything_is_created(bench: Bench) -> None:
    with pytest.raises(LinuxError, match="netns"):
        bench.attach("/run/hnt-node-tests/hnt-no-such-netns", "c6", [V4])
    assert podnet.host_veth("c6", "eth0") not in links_of(bench.node)


def test_detach_returns_with_both_ends_gone_is_idempotent_and_the_name_is_free_at_once(bench: Bench) -> None:
    pod = bench.pod()
    made = bench.attach(pod, "c7", [V4])
    assert bench.run(lambda: podnet.detach(made.host)) is True
    assert made.host not in links_of(bench.node) and "eth0" not in links_of(pod)
    assert bench.run(lambda: podnet.detach(made.host)) is False  # DEL twice: success, nothing to do
    again = bench.attach(pod, "c7", [V4])  # re-ADD at once: both names are free though the kernel may still be
    assert again.host == made.host  # finishing the first pair's teardown
    assert bench.run(lambda: podnet.detach(made.host)) is True


def test_a_batch_reports_each_failed_message_with_one_acknowledgement(bench: Bench) -> None:
    pod = bench.pod()

    def batch() -> list[int]:
        with rtnl.Socket(pod) as sock:
            lo = sock.index_of("lo")
            assert lo == 1 and sock.index_of("hnt-missing") is None
            return sock.batch(
                [
                    rtnl.add_address(9999, 4, bytes([10, 1, 0, 1]), 24, None, "on a missing link"),
                    rtnl.set_up(lo, "lo"),
                    rtnl.add_address(lo, 4, bytes([10, 1, 0, 1]), 24, None, "first"),
                    rtnl.add_address(lo, 4, bytes([10, 1, 0, 1]), 24, None, "again"),
                    rtnl.set_up(lo, "lo"),
                ]
            )

    assert bench.run(batch) == [errno.ENODEV, 0, 0, errno.EEXIST, 0]


def test_a_refused_delete_is_raised_not_taken_for_done(bench: Bench) -> None:
    """The kernel's answer (here: `lo` cannot be deleted) comes before any announcement and is raised."""
    pod = bench.pod()
    with pytest.raises(LinuxError, match="failed to delete link 'lo'"):
        netns.run_in(pod, lambda: links.delete_until_unlisted("lo"))
    assert "lo" in links_of(pod)
