"""route_state describes the route the router really has for the node record it is stored on: the controller's
desired set and report wiring (real SQLite / PostgreSQL), the Reconciler, and the kernel backend in a router
namespace. Reports are held and delivered by the test, so a report can be made to arrive late."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
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
