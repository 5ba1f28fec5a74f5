"""Controller replicas with router agents, for real: two `hubnet server` processes on one PostgreSQL database (no route
backend), two router namespaces each running `hubnet router join` with both controllers' URLs (its own link's
controller first), and 500 registrations from 64 concurrent clients spread over both replicas.

    root: c1 on 169.254.A.B+1 <-> r1 (hnt-lan0: 192.168.1.1/24, 172.31.0.1/22)
          c2 on 169.254.C.D+1 <-> r2 (the same LAN addresses)

What a user observes: 0 overlapping subnets (one /24 each, all distinct, `GET /v1/check` clean), every node's route
in BOTH routers' kernels (seen by a netlink route monitor in each namespace), p99 of reply → route in the second
router ≤ 1 s (a change committed on one replica reaches the agents of both through NOTIFY), every node `programmed`
with `route_states` {"r1": "programmed", "r2": "programmed"}; the foreign routes never move.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import httpx
import pytest

from hubnet.linux.netns import path_of
from hubnet.linux.routes import KernelRoute, RouteEvent, RouteMonitor
from tests.integration.support import HUBNET, Databases, new_secret, pg_available
from tests.netns.routing.conftest import Router, build_router, wait_for
from tests.netns.routing.test_router_agent import LinkServer, _link
from tests.support.netns import netns
from tests.support.prereq import need, need_root_netns

pytestmark = [pytest.mark.netns, pytest.mark.postgres, pytest.mark.serial]

NODES, CLIENTS = 500, 64
PROTO = 44
NODE_LAN = IPv4Network("172.31.0.0/22")  # the nodes' addresses: on-link on both routers' LAN
CLUSTER = "10.64.0.0/14"  # 1,024 /24s


@dataclass
class Replica:
    name: str
    router: Router
    server: LinkServer
    link: tuple[str, str]
    address: str  # where its controller listens (the root end of its router's link)
    agent: subprocess.Popen[bytes] | None = None


class FirstSeen:
    """When each prefix of ours first appeared in one router's kernel (netlink notifications, monotonic time)."""

    def __init__(self, ns: str) -> None:
        self.times: dict[str, float] = {}
        self.overruns = 0
        self._monitor = RouteMonitor(table=254, netns=ns, on_event=self._seen)

    def _seen(self, event: RouteEvent, route: KernelRoute | None) -> None:
        if event == "overrun":
            self.overruns += 1
        elif route is not None and event != "delete" and route.protocol == PROTO:
            self.times.setdefault(str(route.prefix), time.monotonic())

    def __enter__(self) -> FirstSeen:
        self._monitor.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._monitor.stop()


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[list[Replica]]:
    need_root_netns()
    need(pg_available(), "needs PostgreSQL on 127.0.0.1:5432 (scripts/start-postgres.sh)")
    dbs = Databases(tmp_path)
    db_url = dbs.new("postgres")
    made: list[Replica] = []
    with netns("rtr") as ns1, netns("rtr") as ns2:
        try:
            admin, bootstrap = "adm-" + new_secret()[:24], "boot-" + new_secret()[:24]
            for name, ns in (("r1", ns1), ("r2", ns2)):
                router = build_router(ns)
                router.ip("addr", "add", f"{NODE_LAN[1]}/{NODE_LAN.prefixlen}", "dev", "hnt-lan0")
                link, address = _link(router)
                server = LinkServer(
                    db_url,
                    tmp_path / f"c-{name}",
                    extra_env={"HUBNET_ROUTE_BACKEND": "none", "HUBNET_CLUSTER_CIDR": CLUSTER},
                    admin=admin,
                    bootstrap=bootstrap,
                    address=address,
                )
                server.log_dir.mkdir()
                server.extra_env["HUBNET_LISTEN"] = f"{address}:{server.port}"
                made.append(Replica(name, router, server, link, address))
            for mine, other in ((made[0], made[1]), (made[1], made[0])):
                # each router reaches the other replica through its own link (the root namespace delivers locally)
                mine.router.ip("route", "add", f"{other.address}/32", "via", mine.address)
                mine.router.foreign = mine.router.not_ours()
            made[0].server.start()  # migrates the fresh database first
            made[1].server.start()
            for replica in made:
                start_agent(replica, [replica.server.url, *(r.server.url for r in made if r is not replica)])
            yield made
        finally:
            for replica in made:
                stop_agent(replica)
                replica.server.stop(signal.SIGKILL)
                subprocess.run(["ip", "link", "del", replica.link[0]], capture_output=True, check=False)
            dbs.drop_all()


def start_agent(replica: Replica, urls: list[str]) -> None:
    options = [option for url in urls for option in ("--controller", url)]
    cmd = [
        "nsenter", f"--net={path_of(replica.router.ns)}", HUBNET, "router", "join", *options,
        "--token", replica.server.bootstrap, "--name", replica.name,
        "--state-dir", str(replica.server.log_dir / "router-state"), "--report-interval", "1",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBNET_")}
    with open(replica.server.log_dir / "router-agent.log", "ab") as log:
        replica.agent = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)


def stop_agent(replica: Replica) -> None:
    if replica.agent is not None and replica.agent.poll() is None:
        replica.agent.send_signal(signal.SIGTERM)
        try:
            replica.agent.wait(15)
        except subprocess.TimeoutExpired:
            replica.agent.kill()
            replica.agent.wait(5)


def routers_up(replica: Replica) -> bool:
    with replica.server.client(replica.server.admin) as c:
        items = c.get("/v1/routers").json()["items"]
    return sorted((r["name"], r["status"]) for r in items) == [("r1", "up"), ("r2", "up")]


def all_nodes(replica: Replica) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    after = ""
    with replica.server.client(replica.server.admin) as c:
        while True:
            page = c.get("/v1/nodes", params={"limit": 500, **({"cursor": after} if after else {})}).json()
            found.extend(page["items"])
            after = page.get("next_cursor") or ""
            if not after:
                return found


@pytest.mark.timeout(300)
def test_registrations_spread_over_two_replicas_reach_both_routers(replicas: list[Replica]) -> None:
    wait_for(lambda: all(routers_up(r) for r in replicas), timeout=30)
    addresses = [str(IPv4Address(int(NODE_LAN.network_address) + 2 + i)) for i in range(NODES)]
    replied: dict[str, float] = {}  # subnet -> when its registration's reply arrived
    via: dict[str, str] = {}
    lock = threading.Lock()
    clients = [httpx.Client(base_url=r.server.url, timeout=30) for r in replicas]

    def register(i: int) -> None:
        replica = i % 2  # even: c1, odd: c2
        body = {"name": f"rep-{i}", "address": addresses[i], "secret": new_secret()}
        headers = {"Authorization": f"Bearer {replicas[replica].server.bootstrap}"}
        resp = clients[replica].post("/v1/nodes", json=body, headers=headers)
        now = time.monotonic()
        assert resp.status_code == 201, resp.text
        with lock:
            replied[resp.json()["subnet"]] = now
            via[resp.json()["subnet"]] = replicas[replica].name

    try:
        with FirstSeen(replicas[0].router.ns) as r1, FirstSeen(replicas[1].router.ns) as r2:
            started = time.monotonic()
            with ThreadPoolExecutor(CLIENTS) as pool:
                list(pool.map(register, range(NODES)))
            took = time.monotonic() - started
            wait_for(lambda: len(r1.times) >= NODES and len(r2.times) >= NODES, timeout=30)
    finally:
        for client in clients:
            client.close()
    assert r1.overruns == r2.overruns == 0, "the route monitor lost notifications: the figures would be wrong"
    subnets = sorted(replied, key=lambda s: IPv4Network(s))
    nets = [IPv4Network(s) for s in subnets]
    assert len(nets) == NODES and all(n.prefixlen == 24 and n.subnet_of(IPv4Network(CLUSTER)) for n in nets)
    assert all(not a.overlaps(b) for a, b in itertools.pairwise(nets)), "overlapping subnets"
    assert set(r1.times) >= set(subnets) and set(r2.times) >= set(subnets)
    lags = {s: max(0.0, max(r1.times[s], r2.times[s]) - replied[s]) for s in subnets}
    on_other = [lags[s] for s in subnets if via[s] == "r1"]  # registered on c1: r2's agent follows c2 first
    p50, p99 = statistics.median(lags.values()), statistics.quantiles(lags.values(), n=100)[98]
    assert p99 <= 1.0, f"reply -> route in both routers: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"

    wait_for(lambda: all(r["route_state"] == "programmed" for r in all_nodes(replicas[1])), timeout=30)
    nodes = all_nodes(replicas[0])
    assert len(nodes) == NODES
    assert all(n["route_states"] == {"r1": "programmed", "r2": "programmed"} for n in nodes)
    with replicas[1].server.client(replicas[1].server.admin) as c:
        check = c.get("/v1/check").json()
    assert check["ok"] is True and check["checked"]["nodes"] == NODES, json.dumps(check)[:2000]
    for replica in replicas:
        assert replica.router.not_ours() == replica.router.foreign, f"{replica.name}: a foreign route moved"
        assert replica.agent is not None and replica.agent.poll() is None, f"{replica.name}'s agent exited"
    figures = {
        "registrations": NODES,
        "clients": CLIENTS,
        "registrations_per_s": round(NODES / took, 1),
        "reply_to_both_routers_p50_ms": round(p50 * 1000, 1),
        "reply_to_both_routers_p99_ms": round(p99 * 1000, 1),
        "registered_on_c1_p99_ms": round(statistics.quantiles(on_other, n=100)[98] * 1000, 1),
    }
    print(f"\nreplica figures: {json.dumps(figures)}")
