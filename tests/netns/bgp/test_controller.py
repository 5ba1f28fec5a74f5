"""The whole path through a real controller: `hubnet server` (uvicorn, SQLite) with the bgp backend, its gobgpd in
the LAN's speaker namespace (HUBNET_ROUTER_NETNS), a real router (BIRD 2 or FRR) added as a peer through the API,
and nodes that register over HTTP. What is asserted is the router's kernel table, read with iproute2.

- 50 nodes registered → the router holds exactly their 50 routes `subnet via node address`;
- a node deleted (DELETE /v1/nodes/{name}) → its route withdrawn, the others untouched;
- a node re-joining from a new address → its route replaced (the prefix via the new hop), never missing;
- a foreign static route in the router's table is never touched;
- `GET /v1/bgp/peers` shows the session Established with the prefixes sent, and every node is `programmed`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.support import Server
from tests.netns.bgp.conftest import ASN, ESTABLISH, KINDS, PROTO, Routers, kernel, wait_for
from tests.support.bgp import LAN4, SPEAKER4, Lan, node4, router4
from tests.support.netns import sh

NODES = 50
FOREIGN = "10.244.250.0/24"  # an operator's static route on the router, inside the pod range even


@pytest.fixture
def controller(bgp_lan: Lan, tmp_path: Path) -> Iterator[Server]:
    server = Server(
        f"sqlite:///{tmp_path}/hubnet.db",
        tmp_path,
        extra_env={
            # IPv4 only: the LAN's IPv6 prefix is a documentation one, which registration refuses as a node address
            # (IPv6 over BGP is proven in test_speaker.py and by the dual-stack BGP labs)
            "HUBNET_CLUSTER_CIDR": "10.244.0.0/16",
            "HUBNET_ROUTER_ADDRESS": str(router4(1)),
            "HUBNET_ROUTE_BACKEND": "bgp",
            "HUBNET_ROUTER_NETNS": bgp_lan.speaker,
            "HUBNET_BGP_LISTEN": f"{SPEAKER4}:179",
            "HUBNET_BGP_ASN": str(ASN),
            "HUBNET_RECONCILE_INTERVAL": "2",
            "HUBNET_RATE_LIMIT_PER_SECOND": "0",
        },
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def register(client: httpx.Client, name: str, n: int, secret: str) -> dict[str, object]:
    body = {"name": name, "address": node4(n), "secret": secret}
    response = client.post("/v1/nodes", json=body)
    assert response.status_code in (200, 201), response.text
    node: dict[str, object] = response.json()
    return node


@pytest.mark.parametrize("kind", KINDS)
def test_registered_nodes_reach_the_routers_kernel_over_bgp(kind: str, routers: Routers, controller: Server) -> None:
    router = routers.start(kind)
    sh("ip", "route", "add", FOREIGN, "via", f"{LAN4}.200", "proto", "static", ns=router.netns)
    admin, boot = controller.client(controller.admin), controller.client(controller.bootstrap)
    added = admin.post("/v1/bgp/peers", json={"address": str(router4(1)), "asn": ASN, "description": kind})
    assert added.status_code == 201, added.text

    secrets_of = {f"node-{n}": secrets.token_hex(32) for n in range(1, NODES + 1)}
    nodes = {name: register(boot, name, n, secrets_of[name]) for n, name in enumerate(secrets_of, start=1)}
    want = {str(node["subnet"]): node4(n) for n, node in enumerate(nodes.values(), start=1)}
    assert len(want) == NODES
    wait_for(lambda: kernel(router) == want, ESTABLISH, f"{NODES} routes in {kind}'s kernel")

    peers = admin.get("/v1/bgp/peers").json()["items"]
    assert [(p["address"], p["state"]) for p in peers] == [(str(router4(1)), "established")]
    assert peers[0]["prefixes_sent"] == NODES
    wait_for(
        lambda: all(n["route_state"] == "programmed" for n in admin.get("/v1/nodes?limit=1000").json()["items"]),
        10,
        "every node programmed",
    )

    # delete → its route withdrawn, nothing else moves
    assert admin.delete("/v1/nodes/node-7").status_code == 204
    del want[str(nodes["node-7"]["subnet"])]
    wait_for(lambda: kernel(router) == want, 10, "node-7's route withdrawn")

    # re-join from a new address → replaced in place (the prefix never leaves the router's table)
    moved = register(boot, "node-9", 60, secrets_of["node-9"])
    prefix = str(moved["subnet"])
    assert prefix == nodes["node-9"]["subnet"]
    want[prefix] = node4(60)
    missing = []

    def replaced() -> bool:
        table = kernel(router)
        if prefix not in table:
            missing.append(prefix)
        return table == want

    wait_for(replaced, 10, "node-9's route via its new address", step=0.02)
    assert not missing, "node-9's route was missing from the router's table while it moved"

    foreign = sh("ip", "route", "show", FOREIGN, ns=router.netns).stdout
    assert f"via {LAN4}.200" in foreign and "proto static" in foreign


@pytest.mark.parametrize("kind", KINDS)
def test_a_restarted_or_crashed_router_has_the_full_table_back_within_5_s_of_established(
    kind: str, routers: Routers, controller: Server
) -> None:
    router = routers.start(kind)
    admin, boot = controller.client(controller.admin), controller.client(controller.bootstrap)
    assert admin.post("/v1/bgp/peers", json={"address": str(router4(1)), "asn": ASN}).status_code == 201
    nodes = [register(boot, f"node-{n}", n, secrets.token_hex(32)) for n in range(1, 21)]
    want = {str(node["subnet"]): node4(n) for n, node in enumerate(nodes, start=1)}
    wait_for(lambda: kernel(router) == want, ESTABLISH, "the table in the router")

    for how in ("restart", "crash"):
        if how == "restart":
            router.restart()  # a clean stop (the router tells us), then a start: its kernel routes go with it
        else:
            router.kill()
            for prefix in kernel(router):  # a crashed box forgets its FIB (one by one: FRR's routes use nexthop ids)
                sh("ip", "route", "del", prefix, "proto", PROTO[kind], ns=router.netns)
            assert kernel(router) == {}
            router.start()
        wait_for(lambda: any(s.state == "established" for s in router.sessions()), ESTABLISH, f"session ({how})")
        took = wait_for(lambda: kernel(router) == want, 5.0, f"the full table within 5 s of Established ({how})")
        print(f"\n{kind} {how}: full table {took:.2f} s after Established was seen")
