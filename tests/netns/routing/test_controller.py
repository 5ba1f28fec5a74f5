"""The real controller (`hubnet server` under uvicorn, SQLite) programming a router namespace through
HUBNET_ROUTE_BACKEND=kernel + HUBNET_ROUTER_NETNS: readiness, kill -9 restarts without a blink, catch-up."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from hubnet.linux.routes import KernelRoute, RouteEvent, RouteMonitor
from hubnet.server.domain.routes import Route
from tests.integration.support import Server, new_secret, sql
from tests.netns.routing.conftest import PROTO, Router, wait_for

pytestmark = pytest.mark.netns

INTERVAL = 2.0  # HUBNET_RECONCILE_INTERVAL for these tests: "one period"


@dataclass
class Controller:
    server: Server
    router: Router
    nodes: dict[str, tuple[str, str]] = field(default_factory=dict)  # name → (address, subnet)

    def register(self, name: str, address: str, secret: str | None = None, status: int = 201) -> dict[str, str]:
        with self.server.client(self.server.bootstrap) as c:
            body = {"name": name, "address": address, "secret": secret or new_secret()}
            resp = c.post("/v1/nodes", json=body)
        assert resp.status_code == status, resp.text
        body = resp.json()
        self.nodes[name] = (address, body["subnet"])
        return dict(body)

    def node(self, name: str) -> dict[str, str]:
        with self.server.client(self.server.admin) as c:
            resp = c.get(f"/v1/nodes/{name}")
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def expected(self) -> set[tuple[str, str]]:
        return {(subnet, address) for address, subnet in self.nodes.values()}

    def kernel(self) -> set[tuple[str, str]]:
        return {(str(r.prefix), str(r.next_hop)) for r in self.router.ours()}


def _controller(router: Router, tmp_path: Path, **env: str) -> Controller:
    db = tmp_path / "state" / "hubnet.db"
    db.parent.mkdir(exist_ok=True)
    server = Server(
        f"sqlite:///{db}",
        tmp_path,
        extra_env={
            "HUBNET_ROUTE_BACKEND": "kernel",
            "HUBNET_ROUTER_NETNS": router.ns,
            "HUBNET_ROUTE_PROTO": str(PROTO),
            "HUBNET_RECONCILE_INTERVAL": str(INTERVAL),
            "HUBNET_ROUTER_ADDRESS": "192.168.1.1",
            "HUBNET_CLUSTER_CIDR": "10.244.0.0/16",
            **env,
        },
    )
    server.start()
    return Controller(server, router)


@pytest.fixture
def controller(router: Router, tmp_path: Path) -> Iterator[Controller]:
    ctl = _controller(router, tmp_path)
    try:
        yield ctl
    finally:
        ctl.server.stop(signal.SIGKILL)


def route_of(prefix: str, hop: str) -> Route:
    return Route(IPv4Network(prefix), IPv4Address(hop))


class Sampler:
    """Counts our routes with `ip` every 100 ms on a thread; the minimum is what a pod would have lived through."""

    def __init__(self, router: Router) -> None:
        self.router, self.samples = router, []  # type: list[int]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.samples.append(self.router.count_ours())

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def register_many(ctl: Controller, count: int) -> None:
    for i in range(count):
        ctl.register(f"node-{i}", f"192.168.1.{10 + i}")
    wait_for(lambda: ctl.kernel() == ctl.expected(), timeout=10)


def test_registration_reports_programmed_once_the_route_is_in_the_kernel(controller: Controller) -> None:
    body = controller.register("alpha", "192.168.1.50")
    assert body["route_state"] in ("pending", "programmed")
    route = (body["subnet"], "192.168.1.50")
    wait_for(lambda: controller.node("alpha")["route_state"] == "programmed", timeout=5)
    assert route in controller.kernel()  # programmed ⇒ the route really is in the router's table
    assert controller.node("alpha")["route_error"] is None
    with controller.server.client(controller.server.admin) as c:
        drift = c.get("/v1/routes").json()
    assert drift["missing"] == [] and drift["unexpected"] == []
    assert {"prefix": body["subnet"], "next_hop": "192.168.1.50", "node": "alpha"} in drift["desired"]
    with controller.server.client(controller.server.admin) as c:
        events = c.get("/v1/events", params={"since": 0}).json()["items"]
    assert any(e.get("type") == "route.programmed" and e.get("node") == "alpha" for e in events)
    with controller.server.client() as c:
        metrics = c.get("/metrics").text
    assert 'hubnet_route_reconcile_runs_total{trigger="startup"} 1.0' in metrics
    assert 'hubnet_routes_changed_total{action="add"} 1.0' in metrics


def test_dry_run_computes_the_plan_and_applies_nothing(router: Router, tmp_path: Path) -> None:
    router.ip("route", "add", "10.244.99.0/24", "via", "192.168.1.99", "proto", str(PROTO))  # stale, ours
    ctl = _controller(router, tmp_path, HUBNET_ROUTE_DRY_RUN="true")
    try:
        body = ctl.register("gamma", "192.168.1.60")
        with ctl.server.client(ctl.server.admin) as c:
            wait_for(lambda: c.get("/v1/routes").json()["plan"]["add"] != [], timeout=5)
            report = c.get("/v1/routes").json()
    finally:
        ctl.server.stop(signal.SIGKILL)
    assert report["dry_run"] is True
    assert report["plan"]["add"] == [{"prefix": body["subnet"], "next_hop": "192.168.1.60"}]
    assert report["plan"]["delete"] == [{"prefix": "10.244.99.0/24", "next_hop": "192.168.1.99"}]
    assert report["unexpected"] == report["plan"]["delete"]
    assert router.ours() == {route_of("10.244.99.0/24", "192.168.1.99")}  # nothing applied, nothing swept
    assert router.not_ours() == router.foreign


def test_unreachable_node_address_is_reported_failed(controller: Controller) -> None:
    controller.register("beta", "172.30.0.9")  # not on the router's LAN: the kernel refuses the next hop
    wait_for(lambda: controller.node("beta")["route_state"] == "failed", timeout=5)
    assert "unreachable" in (controller.node("beta")["route_error"] or "").lower()
    assert controller.router.count_ours() == 0
    assert controller.router.not_ours() == controller.router.foreign


def test_kill_9_and_restart_never_drops_a_route(controller: Controller) -> None:
    register_many(controller, 100)
    with Sampler(controller.router) as sampler:
        time.sleep(0.3)
        controller.server.stop(signal.SIGKILL)
        time.sleep(2.0)  # the controller is down
        controller.server.start()
        time.sleep(INTERVAL + 1)  # start-up reconcile and one full period
    assert len(sampler.samples) >= 25
    assert min(sampler.samples) >= 100, f"route count dropped to {min(sampler.samples)}"
    assert controller.kernel() == controller.expected()
    assert controller.router.count_ours() == 100
    assert controller.router.not_ours() == controller.router.foreign


def test_nodes_deleted_while_down_are_withdrawn_and_nothing_else_moves(controller: Controller) -> None:
    register_many(controller, 100)
    controller.server.stop(signal.SIGKILL)
    gone = [f"node-{i}" for i in range(0, 100, 10)]
    names = ", ".join(f"'{n}'" for n in gone)
    sql(controller.server.db_url, f"DELETE FROM nodes WHERE name IN ({names})")
    withdrawn = {(controller.nodes[n][1], controller.nodes[n][0]) for n in gone}
    for name in gone:
        del controller.nodes[name]
    with Sampler(controller.router) as sampler:
        controller.server.start()
        took = wait_for(lambda: controller.router.count_ours() == 90, timeout=INTERVAL + 1)
        time.sleep(0.5)
    assert took <= INTERVAL
    assert controller.kernel() == controller.expected() and not withdrawn & controller.kernel()
    assert min(sampler.samples) >= 90  # the 90 others never blinked
    assert controller.router.not_ours() == controller.router.foreign


def test_server_refuses_to_start_on_a_missing_router_netns(tmp_path: Path) -> None:
    db = tmp_path / "hubnet.db"
    server = Server(
        f"sqlite:///{db}", tmp_path, extra_env={"HUBNET_ROUTE_BACKEND": "kernel", "HUBNET_ROUTER_NETNS": "hnt-absent"}
    )
    with pytest.raises(RuntimeError, match="hnt-absent"):
        server.start(timeout=20)
    server.stop(signal.SIGKILL)
    assert subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.count("hnt-absent") == 0


def test_address_change_through_the_api_is_one_kernel_replace_and_delete_withdraws(controller: Controller) -> None:
    secret = new_secret()
    subnet = controller.register("delta", "192.168.1.70", secret)["subnet"]
    controller.register("keep", "192.168.1.71")
    wait_for(lambda: controller.kernel() == controller.expected(), timeout=5)
    events: list[tuple[RouteEvent, KernelRoute | None]] = []
    monitor = RouteMonitor(table=254, netns=controller.router.ns, on_event=lambda e, r: events.append((e, r)))
    monitor.start()
    try:
        controller.register("delta", "192.168.1.72", secret, status=200)  # same node, new address
        wait_for(lambda: (subnet, "192.168.1.72") in controller.kernel(), timeout=2)
        time.sleep(0.3)
        moved = [(e, str(r.next_hop)) for e, r in events if r is not None and str(r.prefix) == subnet]
        assert moved == [("replace", "192.168.1.72")]  # one replace: no delete, no second route
        assert (subnet, "192.168.1.70") not in controller.kernel()
        with controller.server.client(controller.server.admin) as c:
            assert c.delete("/v1/nodes/delta").status_code == 204
        wait_for(lambda: not any(p == subnet for p, _ in controller.kernel()), timeout=1.0)  # right after the commit
    finally:
        monitor.stop()
    assert controller.kernel() == {(controller.nodes["keep"][1], "192.168.1.71")}
    assert controller.router.not_ours() == controller.router.foreign
