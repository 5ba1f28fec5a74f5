"""A real agent whose node was deleted while it was away, and whose subnet went to another node (issue 17 item 7).

The controller (kernel backend, in a router namespace) has a pool of four /24s, all held: the agent's node n1 and
three others. n1's agent is stopped, an admin deletes n1, and another node takes n1's subnet — the only free one,
once the router no longer routes it to n1. When n1's agent comes back (its cached record still names the old subnet),
the controller answers 409 `subnet-reissued`: the agent stays not ready, every ADD fails with code 11 saying so and
what an operator must do, no address of the old subnet is handed to a pod, and the router keeps routing the subnet
to its new holder. Then the operator does what the message says (a subnet is free again, the record is deleted):
the agent registers afresh, with a new subnet, and pods attach there.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.netns.node.support import Node, PluginError, make_ns, nsrun
from tests.netns.node.test_join import TOKEN, Cluster
from tests.support.prereq import need, need_root_netns

pytestmark = pytest.mark.netns
ADMIN = "hnt-admin-token-0123456789"
OLD = "10.244.0.0/24"  # n1 registers first in an empty pool
INSTRUCTION = "hubnet nodes delete n1"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    need_root_netns()
    need(shutil.which("nft") is not None and shutil.which("nsenter") is not None, "needs nft and nsenter")
    env = {"HUBNET_CLUSTER_CIDR": "10.244.0.0/22"}
    found = Cluster(router=make_ns("router"), root=tempfile.mkdtemp(prefix="hnt-cluster-"), backend="kernel", env=env)
    try:
        nsrun(found.router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        found.start_controller()
        yield found
    finally:
        found.destroy()


def _api(cluster: Cluster, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """Call the controller from inside the router namespace (it listens there): (status, JSON answer or None)."""
    code = (
        "import json,sys,urllib.request as u,urllib.error as e\n"
        f"r=u.Request('http://127.0.0.1:6780{path}',method='{method}',data=sys.stdin.buffer.read() or None,"
        f"headers={{'Authorization':'Bearer {token}','Content-Type':'application/json'}})\n"
        "try:\n  a=u.urlopen(r,timeout=10); s,b=a.status,a.read()\n"
        "except e.HTTPError as x:\n  s,b=x.code,x.read()\n"
        "print(json.dumps([s,b.decode()]))"
    )
    cmd = ["nsenter", f"--net={cluster.router}", sys.executable, "-c", code]
    done = subprocess.run(cmd, input=json.dumps(body).encode() if body else b"", capture_output=True, timeout=30)
    status, text = json.loads(done.stdout)
    return int(status), json.loads(text) if text else None


def _register(cluster: Cluster, name: str, address: str) -> tuple[int, Any]:
    body = {"name": name, "address": address, "secret": f"{name}-secret-".ljust(48, "x")}
    return _api(cluster, "POST", "/v1/nodes", TOKEN, body)


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.2)


def _refused_add(node: Node, cid: str) -> PluginError:
    pod = node.new_pod_netns()
    with pytest.raises(PluginError) as err:
        node.add(cid, pod)
    return err.value


def test_agent_of_a_deleted_node_whose_subnet_was_reissued(cluster: Cluster) -> None:
    n1 = cluster.add_node("n1", 61, 11)
    n1.wait_ready()
    with open(os.path.join(n1.state, "node.json")) as f:
        assert json.load(f)["subnet"] == OLD
    for i in range(3):  # the rest of the pool: nodes on n1's link (the router accepts routes via them)
        assert _register(cluster, f"other-{i}", f"192.168.61.{21 + i}")[0] == 201
    n1.stop_agent(signal.SIGTERM)  # away; its network and cached record stay
    assert _api(cluster, "DELETE", "/v1/nodes/n1", ADMIN)[0] == 204

    def thief_registered() -> bool:  # refused (pool full) until the router no longer routes OLD to n1
        return _register(cluster, "thief", "192.168.61.31")[0] == 201

    _wait(thief_registered, 20, "the thief to get n1's subnet")
    assert _api(cluster, "GET", "/v1/nodes/thief", ADMIN)[1]["subnet"] == OLD

    n1.start_agent(wait=False)
    n1.wait_listening()
    _wait(lambda: "subnet-reissued" in n1.log() or "belongs to another node" in n1.log(), 20, "the agent's 409")
    refusals = []
    for attempt in range(5):  # ADD keeps failing while the controller refuses the node, and says why
        refusals.append(_refused_add(n1, f"pod-{attempt}"))
        time.sleep(0.5)
    assert {r.code for r in refusals} == {11}, refusals
    details = refusals[-1].details
    assert "409" in details and OLD in details and INSTRUCTION in details, details
    assert INSTRUCTION in n1.log()
    with pytest.raises(PluginError) as status:
        n1.runtime.status()
    assert status.value.code == 50
    assert n1.reservations() == []  # not one address of the old subnet was handed out
    assert f"{OLD} via 192.168.61.31" in nsrun(cluster.router, "ip", "route").stdout  # the new holder keeps it
    assert _api(cluster, "GET", "/v1/nodes/n1", ADMIN)[1]["state"] == "released"

    # The operator follows the message: a subnet becomes free, and n1's stale record is deleted.
    assert _api(cluster, "DELETE", "/v1/nodes/other-2", ADMIN)[0] == 204
    assert _api(cluster, "DELETE", "/v1/nodes/n1", ADMIN)[0] == 204  # released + re-issued: the record goes
    n1.wait_ready(timeout=40)  # the agent registers afresh on its own (back-off at most 10 s)
    fresh = _api(cluster, "GET", "/v1/nodes/n1", ADMIN)[1]
    assert fresh["state"] == "active" and fresh["subnet"] not in (OLD, None) and fresh["generation"] == 1
    result = n1.add("after", n1.new_pod_netns())
    assert result["ips"][0]["address"].startswith(fresh["subnet"].rsplit(".", 1)[0] + ".")
    n1.runtime.delete("after")
    print(f"subnet re-issued: 5/5 ADDs refused with code 11 naming {OLD} and `{INSTRUCTION}`; 0 reservations; "
          f"after the operator's fix: registered afresh on {fresh['subnet']}")  # fmt: skip
