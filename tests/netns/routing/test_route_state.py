"""route_state describes the route the router really has for the node record it is stored on: the controller's
desired set and report wiring (real SQLite / PostgreSQL), the Reconciler, and the kernel backend in a router
namespace. Reports are held and delivered by the test, so a report can be made to arrive late."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from pathlib import Path
from typing import Any

import pytest

from hubnet.server.db.migrate import upgrade
from hubnet.server.db.uow import Database
from hubnet.server.domain.records import NodeRecord
from hubnet.server.domain.routes import Route
from hubnet.server.routing.kernel import KernelBackend
from hubnet.server.routing.reconciler import Reconciler
from hubnet.server.services import nodes, pools, routes
from hubnet.server.services.context import Controller
from hubnet.server.settings import Settings
from tests.integration.conftest import DB_KINDS, fresh_db
from tests.integration.support import Databases, new_secret
from tests.netns.routing.conftest import PROTO, Router

pytestmark = pytest.mark.netns


@dataclass
class Stack:
    ctl: Controller
    rec: Reconciler
    router: Router
    held: list[Any] = field(default_factory=list)  # reports made by the reconciler, not yet stored

    def register(self, name: str, address: str, secret: str) -> str:
        view, _ = nodes.register(ctl=self.ctl, token="boot", name=name, address=address, secret=secret, machine_id=None)
        return view.route_state

    def delete(self, name: str) -> None:
        nodes.delete(self.ctl, token="admin", name=name)

    def deliver(self) -> None:
        while self.held:
            routes.report(self.ctl, self.held.pop(0))

    def record(self, name: str) -> NodeRecord:
        found = self.ctl.read(lambda uow: uow.repo.node(name))
        assert found is not None
        return found

    def kernel_route(self, name: str) -> Route:
        node = self.record(name)
        return Route(IPv4Network(node.subnet), IPv4Address(node.address))


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    dbs = Databases(tmp_path_factory.mktemp("dbs"))
    yield dbs
    dbs.drop_all()


@pytest.fixture(params=DB_KINDS)
def stack(request: pytest.FixtureRequest, databases: Databases, router: Router, tmp_path: Path) -> Iterator[Stack]:
    url = fresh_db(databases, str(request.param))
    upgrade(url)
    settings = Settings(
        database_url=url,
        cluster_cidr=IPv4Network("10.244.0.0/16"),
        router_address=IPv4Address("192.168.1.1"),
        bootstrap_tokens=("boot",),
        admin_tokens=("admin",),
        state_dir=tmp_path,
    )
    ctl = Controller(db=Database(url), settings=settings)
    pools.ensure_pool(ctl, cidr=settings.cluster_cidr, node_prefix=24)
    backend = KernelBackend(proto=PROTO, netns=router.ns)
    held: list[Any] = []
    rec = Reconciler(backend, load_desired=lambda: routes.desired(ctl), report=held.append)
    try:
        yield Stack(ctl, rec, router, held)
    finally:
        backend.close()
        ctl.close()


def test_rejoin_from_a_new_address_is_pending_until_the_new_route_is_in(stack: Stack) -> None:
    secret = new_secret()
    stack.register("alpha", "192.168.1.20", secret)
    stack.rec.reconcile_now()
    stack.deliver()
    assert stack.record("alpha").route_state == "programmed"
    assert stack.register("alpha", "192.168.1.21", secret) == "pending"  # same node, new address
    assert (stack.record("alpha").route_state, stack.record("alpha").route_error) == ("pending", None)
    assert stack.kernel_route("alpha") not in stack.router.ours()  # indeed: the router still has the old hop
    stack.rec.reconcile_now()
    stack.deliver()
    assert stack.record("alpha").route_state == "programmed"
    assert stack.kernel_route("alpha") in stack.router.ours()


def test_late_report_about_the_previous_incarnation_changes_nothing(stack: Stack) -> None:
    secret = new_secret()
    stack.register("beta", "192.168.1.30", secret)
    stack.rec.reconcile_now()  # its report ("programmed" via .30) is still in flight ...
    stack.delete("beta")
    stack.register("beta", "192.168.1.31", secret)  # ... while beta is released and reclaimed via .31
    assert stack.record("beta").generation == 2
    stack.deliver()
    assert stack.record("beta").route_state == "pending"
    assert stack.kernel_route("beta") not in stack.router.ours()
    stack.rec.reconcile_now()
    stack.deliver()
    assert stack.record("beta").route_state == "programmed"
    assert stack.kernel_route("beta") in stack.router.ours()


def test_delete_and_reregister_between_two_reconciles_ends_programmed(stack: Stack) -> None:
    secret = new_secret()
    stack.register("gamma", "192.168.1.40", secret)
    stack.rec.reconcile_now()
    stack.deliver()
    assert stack.record("gamma").route_state == "programmed"
    stack.delete("gamma")
    stack.register("gamma", "192.168.1.40", secret)  # reclaimed: same subnet and hop, route_state reset
    assert stack.record("gamma").route_state == "pending"
    stack.rec.reconcile_now()  # the route is already right; the new record must still be told so
    stack.deliver()
    assert stack.record("gamma").route_state == "programmed"
    assert stack.kernel_route("gamma") in stack.router.ours()


# -- dual-stack: a route per family, one state per node record -------------------------------------------------


@pytest.fixture(params=DB_KINDS)
def stack6(request: pytest.FixtureRequest, databases: Databases, router6: Router, tmp_path: Path) -> Iterator[Stack]:
    url = fresh_db(databases, str(request.param))
    upgrade(url)
    settings = Settings(
        database_url=url,
        cluster_cidrs=(IPv4Network("10.244.0.0/16"), IPv6Network("fd00:10:244::/56")),
        router_addresses=(IPv4Address("192.168.1.1"), IPv6Address("fd7a:1ab::1")),
        bootstrap_tokens=("boot",),
        admin_tokens=("admin",),
        state_dir=tmp_path,
    )
    ctl = Controller(db=Database(url), settings=settings)
    for cidr in settings.cluster_cidrs:
        pools.ensure_pool(ctl, cidr=cidr, node_prefix=settings.prefix_for(cidr.version))
    backend = KernelBackend(proto=PROTO, netns=router6.ns)
    held: list[Any] = []
    rec = Reconciler(backend, load_desired=lambda: routes.desired(ctl), report=held.append)
    try:
        yield Stack(ctl, rec, router6, held)
    finally:
        backend.close()
        ctl.close()


def register(stack: Stack, name: str, *addresses: str, secret: str | None = None) -> None:
    nodes.register(
        ctl=stack.ctl,
        token="boot",
        name=name,
        address=addresses[0],
        addresses=list(addresses),
        secret=secret or new_secret(),
        machine_id=None,
    )


def test_dual_stack_node_gets_both_routes_and_is_programmed(stack6: Stack) -> None:
    register(stack6, "alpha", "192.168.1.20", "fd7a:1ab::20")
    register(stack6, "beta", "fd7a:1ab::21")  # IPv6 only: keyed by its IPv6 address
    stack6.rec.reconcile_now()
    stack6.deliver()
    alpha, beta = stack6.record("alpha"), stack6.record("beta")
    assert alpha.subnet is not None and alpha.subnet6 is not None and beta.subnet6 is not None and beta.subnet is None
    assert stack6.router.ours() == {Route(IPv4Network(alpha.subnet), IPv4Address("192.168.1.20"))}
    assert stack6.router.ours6() == {
        Route(IPv6Network(alpha.subnet6), IPv6Address("fd7a:1ab::20")),
        Route(IPv6Network(beta.subnet6), IPv6Address("fd7a:1ab::21")),
    }
    assert f"{alpha.subnet6} via fd7a:1ab::20 dev hnt-lan0 proto 44" in stack6.router.ip("-6", "route")
    assert (alpha.route_state, alpha.route_error) == ("programmed", None)
    assert (beta.route_state, beta.route_error) == ("programmed", None)
    assert stack6.router.not_ours() == stack6.router.foreign


def test_refused_ipv6_route_fails_the_node_naming_it_while_its_ipv4_route_is_programmed(stack6: Stack) -> None:
    register(stack6, "gamma", "192.168.1.40", "fd7b::40")  # not on the router's IPv6 link: the kernel refuses it
    register(stack6, "delta", "192.168.1.41", "fd7a:1ab::41")
    stack6.rec.reconcile_now()
    stack6.deliver()
    gamma = stack6.record("gamma")
    assert gamma.route_state == "failed"
    assert (
        gamma.route_error == f"IPv6: failed to add route {gamma.subnet6} via fd7b::40 proto {PROTO}: No route to host"
    )
    assert Route(IPv4Network(str(gamma.subnet)), IPv4Address("192.168.1.40")) in stack6.router.ours()
    assert str(gamma.subnet6) not in stack6.router.ip("-6", "route")
    assert stack6.record("delta").route_state == "programmed"
    drift = stack6.rec.drift()
    assert [row["prefix"] for row in drift["missing"]] == [gamma.subnet6]


def test_late_report_from_before_an_ipv6_move_changes_nothing(stack6: Stack) -> None:
    """A re-join that moves only the IPv6 address (or adds the IPv6 subnet) keeps the generation and the IPv4
    primary address: a report computed for the routes before it must not mark the record programmed."""
    secret = new_secret()
    register(stack6, "eta", "192.168.1.50", "fd7a:1ab::50", secret=secret)
    stack6.rec.reconcile_now()  # computes `programmed` for eta's current routes; held, not delivered yet
    register(stack6, "eta", "192.168.1.50", "fd7a:1ab::51", secret=secret)
    assert stack6.record("eta").route_state == "pending"
    stack6.deliver()  # the late report about the routes via fd7a:1ab::50
    assert stack6.record("eta").route_state == "pending"
    stack6.rec.reconcile_now()
    stack6.deliver()
    eta = stack6.record("eta")
    assert eta.route_state == "programmed"
    assert Route(IPv6Network(eta.subnet6 or ""), IPv6Address("fd7a:1ab::51")) in stack6.router.ours6()
