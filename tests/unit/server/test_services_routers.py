"""Router agents against the in-memory unit of work: join, report, the aggregate over the `up` routers, the timeout
that takes a silent router down, deletion, the node's `route_states`, and the route feed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hubnet.server.db.memory import MemoryRouters
from hubnet.server.domain.errors import (
    EmbeddedRouteBackend,
    Forbidden,
    InvalidInput,
    NotFound,
    PoolExhausted,
    Unauthenticated,
)
from hubnet.server.services import node_reads, nodes, routefeed, routers, tokens
from hubnet.server.services.context import Controller
from hubnet.server.services.routers import ReportedState, RouterReport
from tests.unit.server.fakes import ADMIN, BOOT, Clock, events, kinds, memory_controller

R1, R2 = "r1-secret-" + "a" * 30, "r2-secret-" + "b" * 30
NODE_SECRET = "n" * 48


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ctl(clock: Clock) -> Iterator[Controller]:
    with memory_controller(clock, router_down_seconds=10.0) as controller:
        yield controller


def node(ctl: Controller, name: str, address: str, secret: str = NODE_SECRET) -> None:
    nodes.register(ctl, token=BOOT, name=name, address=address, secret=secret, machine_id=None)


def report(
    ctl: Controller, name: str, secret: str, *states: tuple[str, int, str], complete: bool = True, error: str = ""
) -> str:
    body = RouterReport(
        revision=ctl.read(lambda uow: uow.repo.revision()),  # an up-to-date router
        complete=complete,
        states=[ReportedState(n, g, s, error or None) for n, g, s in states],
    )
    return routers.report(ctl, token=secret, name=name, body=body).status.value


def state(ctl: Controller, name: str) -> tuple[str, str | None, dict[str, str]]:
    view = node_reads.get(ctl, token=ADMIN, name=name)
    return view.route_state.value, view.route_error, view.route_states


def two_routers_up(ctl: Controller) -> None:
    routers.join(ctl, token=BOOT, name="r1", secret=R1)
    routers.join(ctl, token=BOOT, name="r2", secret=R2)
    assert report(ctl, "r1", R1) == report(ctl, "r2", R2) == "up"


def test_join_then_rejoin(ctl: Controller) -> None:
    view, created = routers.join(ctl, token=BOOT, name="r1", secret=R1)
    assert created and (view.name, view.status.value, view.last_report_at, view.applied_revision) == (
        "r1",
        "syncing",
        None,
        None,
    )
    again, created = routers.join(ctl, token=ADMIN, name="r1", secret=R2)  # a re-join replaces the secret
    assert not created and again.created_at == view.created_at
    with pytest.raises(Unauthenticated):
        routers.get_router(ctl, token=R1, name="r1")
    assert routers.get_router(ctl, token=R2, name="r1").name == "r1"
    assert [(k, d) for k, _, d in events(ctl) if k.startswith("router.")] == [
        ("router.joined", {"router": "r1", "rejoined": False}),
        ("router.joined", {"router": "r1", "rejoined": True}),
    ]


def test_join_checks_credentials_and_input(ctl: Controller) -> None:
    node(ctl, "n1", "192.168.1.11")
    routers.join(ctl, token=BOOT, name="r1", secret=R1)
    refused = {None: Unauthenticated, "garbage": Unauthenticated, NODE_SECRET: Forbidden, R1: Forbidden}
    for token, error in refused.items():
        with pytest.raises(error):
            routers.join(ctl, token=token, name="r2", secret=R2)
    for name, secret, field in (("R2", R2, "name"), ("r2", "short", "secret"), ("r2", "x" * 129, "secret")):
        with pytest.raises(InvalidInput) as caught:
            routers.join(ctl, token=BOOT, name=name, secret=secret)
        assert caught.value.field == field


def test_a_stored_bootstrap_token_joins_without_using_itself_up(ctl: Controller) -> None:
    created = tokens.create(ctl, token=ADMIN, description="", ttl_seconds=None, max_uses=1)
    routers.join(ctl, token=created.token, name="r1", secret=R1)
    routers.join(ctl, token=created.token, name="r2", secret=R2)
    assert tokens.list_all(ctl, token=ADMIN)[0].uses == 0


def test_an_embedded_backend_refuses_router_agents(clock: Clock) -> None:
    with (
        memory_controller(clock, route_backend="kernel") as ctl,
        pytest.raises(EmbeddedRouteBackend, match="HUBNET_ROUTE_BACKEND=kernel"),
    ):
        routers.join(ctl, token=BOOT, name="r1", secret=R1)


def test_programmed_only_once_every_up_router_holds_the_route(ctl: Controller) -> None:
    node(ctl, "n1", "192.168.1.11")
    two_routers_up(ctl)
    assert state(ctl, "n1") == ("pending", None, {"r1": "pending", "r2": "pending"})
    report(ctl, "r1", R1, ("n1", 1, "programmed"))
    assert state(ctl, "n1") == ("pending", None, {"r1": "programmed", "r2": "pending"})
    assert "route.programmed" not in kinds(ctl)
    report(ctl, "r2", R2, ("n1", 1, "programmed"))
    assert state(ctl, "n1") == ("programmed", None, {"r1": "programmed", "r2": "programmed"})
    assert kinds(ctl).count("route.programmed") == 1
    report(ctl, "r2", R2, ("n1", 1, "failed"), error="File exists")
    assert state(ctl, "n1")[:2] == ("failed", "r2: File exists")
    assert kinds(ctl)[-1] == "route.failed"


def test_a_state_for_another_generation_or_an_unknown_node_is_ignored(ctl: Controller) -> None:
    node(ctl, "n1", "192.168.1.11")
    routers.join(ctl, token=BOOT, name="r1", secret=R1)
    report(ctl, "r1", R1, ("n1", 2, "programmed"), ("ghost", 1, "programmed"))
    assert state(ctl, "n1")[2] == {"r1": "pending"}


def test_no_router_up_is_pending_and_says_why(ctl: Controller, clock: Clock) -> None:
    node(ctl, "n1", "192.168.1.11")
    routers.join(ctl, token=BOOT, name="r1", secret=R1)
    report(ctl, "r1", R1, ("n1", 1, "programmed"))
    assert state(ctl, "n1")[0] == "programmed"
    clock.now += 11
    assert routers.mark_down(ctl) == ["r1"]
    assert routers.mark_down(ctl) == []  # once
    assert state(ctl, "n1") == ("pending", "no router agent is up", {"r1": "programmed"})


def test_a_router_down_no_longer_blocks_and_coming_back_does_not_flip(ctl: Controller, clock: Clock) -> None:
    node(ctl, "n1", "192.168.1.11")
    two_routers_up(ctl)
    report(ctl, "r1", R1, ("n1", 1, "programmed"))
    clock.now += 6
    report(ctl, "r1", R1)  # r1 keeps reporting, r2 goes silent
    node(ctl, "n2", "192.168.1.12")
    report(ctl, "r1", R1, ("n2", 1, "programmed"))
    assert state(ctl, "n1")[0] == state(ctl, "n2")[0] == "pending"  # r2 holds neither yet
    clock.now += 5
    assert routers.mark_down(ctl) == ["r2"]
    assert state(ctl, "n1")[0] == state(ctl, "n2")[0] == "programmed"
    assert routers.get_router(ctl, token=ADMIN, name="r2").status.value == "down"
    # r2 comes back: it holds n1 (programmed earlier) but not n2 yet, and says its table is complete
    assert report(ctl, "r2", R2, ("n1", 1, "programmed")) == "syncing"
    assert state(ctl, "n2")[0] == "programmed"  # a router syncing does not count
    assert report(ctl, "r2", R2, ("n2", 1, "programmed")) == "up"
    assert state(ctl, "n1")[0] == state(ctl, "n2")[0] == "programmed"
    up = routers.get_router(ctl, token=ADMIN, name="r2")
    assert up.synced_at == clock.now
    assert [k for k in kinds(ctl) if k.startswith("router.")][-3:] == ["router.down", "router.syncing", "router.up"]


def test_an_incomplete_report_keeps_a_router_syncing(ctl: Controller) -> None:
    routers.join(ctl, token=BOOT, name="r1", secret=R1)
    assert report(ctl, "r1", R1, complete=False) == "syncing"
    assert report(ctl, "r1", R1, complete=True) == "up"
    assert report(ctl, "r1", R1, complete=False) == "up"  # only the timeout takes it down


def test_a_move_without_a_new_generation_forgets_what_routers_held(ctl: Controller) -> None:
    node(ctl, "n1", "192.168.1.11")
    routers.join(ctl, token=BOOT, name="r1", secret=R1)
    report(ctl, "r1", R1, ("n1", 1, "programmed"))
    assert state(ctl, "n1")[0] == "programmed"
    node(ctl, "n1", "192.168.1.99")  # re-join from another address: the route moves, generation 1 still
    assert state(ctl, "n1") == ("pending", None, {"r1": "pending"})
    node(ctl, "n2", "192.168.1.12")
    routers.mark_down(ctl)
    report(ctl, "r1", R1, ("n2", 1, "programmed"))  # any recompute: n1 must not come back from the old route
    assert state(ctl, "n1")[0] == "pending"


def test_released_nodes_keep_withdrawn(ctl: Controller) -> None:
    node(ctl, "n1", "192.168.1.11")
    routers.join(ctl, token=BOOT, name="r1", secret=R1)
    report(ctl, "r1", R1, ("n1", 1, "programmed"))
    nodes.delete(ctl, token=ADMIN, name="n1")
    report(ctl, "r1", R1, ("n1", 1, "programmed"))
    assert state(ctl, "n1") == ("withdrawn", None, {"r1": "withdrawn"})


def test_deleting_a_router_recomputes(ctl: Controller) -> None:
    node(ctl, "n1", "192.168.1.11")
    two_routers_up(ctl)
    report(ctl, "r1", R1, ("n1", 1, "programmed"))
    assert state(ctl, "n1")[0] == "pending"
    with pytest.raises(Forbidden):
        routers.delete_router(ctl, token=R2, name="r2")
    routers.delete_router(ctl, token=ADMIN, name="r2")
    assert state(ctl, "n1") == ("programmed", None, {"r1": "programmed"})
    with pytest.raises(NotFound):
        routers.delete_router(ctl, token=ADMIN, name="r2")
    assert [r.name for r in routers.list_routers(ctl, token=ADMIN)] == ["r1"]
    assert "router.deleted" in kinds(ctl)


def test_a_router_acts_only_on_itself(ctl: Controller) -> None:
    node(ctl, "n1", "192.168.1.11")
    two_routers_up(ctl)
    for name in ("r2", "nobody"):  # 403 whether or not the name exists
        with pytest.raises(Forbidden):
            routers.report(ctl, token=R1, name=name, body=RouterReport(revision=0, complete=True))
        with pytest.raises(Forbidden):
            routers.get_router(ctl, token=R1, name=name)
    for token in (R1, NODE_SECRET, BOOT):
        with pytest.raises(Forbidden):
            routers.list_routers(ctl, token=token)
    with pytest.raises(Unauthenticated):
        routers.list_routers(ctl, token="garbage")


def test_report_counters_are_stored(ctl: Controller, clock: Clock) -> None:
    routers.join(ctl, token=BOOT, name="r1", secret=R1)
    body = RouterReport(revision=7, complete=False, route_count=3, missing=1, unexpected=2, foreign=4, error="x" * 5000)
    view = routers.report(ctl, token=R1, name="r1", body=body)
    assert (view.route_count, view.missing, view.unexpected, view.foreign, view.applied_revision) == (3, 1, 2, 4, 7)
    assert view.last_report_at == clock.now and view.last_error == "x" * routers.MAX_ERROR


def test_embedded_route_states(clock: Clock) -> None:
    with memory_controller(clock, route_backend="kernel") as ctl:
        node(ctl, "n1", "192.168.1.11")
        assert state(ctl, "n1")[2] == {"embedded": "pending"}
        page, _ = node_reads.list_nodes(ctl, token=ADMIN, state=None, limit=10, cursor=None)
        assert page[0].route_states == {"embedded": "pending"}


def test_route_states_in_a_page(ctl: Controller) -> None:
    node(ctl, "n1", "192.168.1.11")
    node(ctl, "n2", "192.168.1.12", secret="m" * 48)
    page, _ = node_reads.list_nodes(ctl, token=ADMIN, state=None, limit=10, cursor=None)
    assert [p.route_states for p in page] == [{}, {}]  # agent mode, no router: nothing to show
    two_routers_up(ctl)
    report(ctl, "r2", R2, ("n2", 1, "programmed"))
    page, _ = node_reads.list_nodes(ctl, token=ADMIN, state=None, limit=10, cursor=None)
    assert [p.route_states for p in page] == [
        {"r1": "pending", "r2": "pending"},
        {"r1": "pending", "r2": "programmed"},
    ]


def test_feed_full_then_delta(ctl: Controller) -> None:
    node(ctl, "n1", "192.168.1.11")
    node(ctl, "n2", "192.168.1.12", secret="m" * 48)
    full = routefeed.feed(ctl, since=0)
    assert full.full and [(e.node, e.generation) for e in full.entries] == [("n1", 1), ("n2", 1)]
    assert full.entries[0].routes == [{"prefix": "10.244.0.0/24", "next_hop": "192.168.1.11"}]
    assert routefeed.feed(ctl, since=full.revision).entries == []
    nodes.delete(ctl, token=ADMIN, name="n1")
    node(ctl, "n3", "192.168.1.13", secret="k" * 48)
    delta = routefeed.feed(ctl, since=full.revision)
    assert not delta.full and delta.revision > full.revision
    assert [(e.node, e.generation, len(e.routes)) for e in delta.entries] == [("n1", 1, 0), ("n3", 1, 1)]
    assert routefeed.feed(ctl, since=delta.revision + 100).full  # ahead of the log


def test_feed_names_a_removed_record_with_generation_0(ctl: Controller) -> None:
    node(ctl, "n1", "192.168.1.11")
    since = routefeed.feed(ctl, since=0).revision
    ctl.write(lambda uow: uow.emit("node.deleted", "gone"))
    assert [(e.node, e.generation, e.routes) for e in routefeed.feed(ctl, since=since).entries] == [("gone", 0, [])]


def test_feed_auth(ctl: Controller) -> None:
    node(ctl, "n1", "192.168.1.11")
    routers.join(ctl, token=BOOT, name="r1", secret=R1)
    routefeed.authorize(ctl, token=ADMIN)
    routefeed.authorize(ctl, token=R1)
    for token, error in ((NODE_SECRET, Forbidden), (BOOT, Forbidden), (None, Unauthenticated), ("x", Unauthenticated)):
        with pytest.raises(error):
            routefeed.authorize(ctl, token=token)


def test_a_report_repeating_what_is_stored_writes_no_state(ctl: Controller, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full report mostly repeats stored states: only changes are written (and their nodes recomputed)."""
    node(ctl, "n1", "192.168.1.11")
    node(ctl, "n2", "192.168.1.12", secret="m" * 48)
    two_routers_up(ctl)
    report(ctl, "r1", R1, ("n1", 1, "programmed"), ("n2", 1, "programmed"))
    written: list[list[int]] = []
    save = MemoryRouters.save_states

    def spy(self: MemoryRouters, router_id: int, rows: Any, *, now: float) -> None:
        written.append([row[0] for row in rows])
        save(self, router_id, rows, now=now)

    monkeypatch.setattr(MemoryRouters, "save_states", spy)
    before = len(kinds(ctl))
    report(ctl, "r1", R1, ("n1", 1, "programmed"), ("n2", 1, "programmed"))
    assert written == [] and len(kinds(ctl)) == before
    report(ctl, "r1", R1, ("n1", 1, "programmed"), ("n2", 1, "pending"))
    assert len(written) == 1 and len(written[0]) == 1  # only n2's row
    assert state(ctl, "n2")[2] == {"r1": "pending", "r2": "pending"}


def lagging_report(ctl: Controller, name: str, secret: str, revision: int, *, unexpected: int = 0) -> None:
    body = RouterReport(revision=revision, complete=True, unexpected=unexpected)
    routers.report(ctl, token=secret, name=name, body=body)


def test_agent_mode_holds_a_released_subnet_until_every_router_applied_the_release(clock: Clock) -> None:
    """Issue 17 item 6 with router agents: the subnet goes to nobody while a router's table may still route it."""
    with memory_controller(clock, router_down_seconds=10.0, cluster_cidr="10.244.0.0/23", node_prefix=24) as ctl:
        node(ctl, "gone", "192.168.1.11")
        node(ctl, "stays", "192.168.1.12", secret="m" * 48)
        two_routers_up(ctl)
        report(ctl, "r1", R1, ("gone", 1, "programmed"), ("stays", 1, "programmed"))
        report(ctl, "r2", R2, ("gone", 1, "programmed"), ("stays", 1, "programmed"))
        before = ctl.read(lambda uow: uow.repo.revision())
        nodes.delete(ctl, token=ADMIN, name="gone")
        report(ctl, "r1", R1)  # r1 applied the release; r2's table is from before it
        lagging_report(ctl, "r2", R2, before)
        assert state(ctl, "gone")[0] == "withdrawing"
        with pytest.raises(PoolExhausted):  # the only free subnet is the held one
            node(ctl, "new", "192.168.1.13", secret="o" * 48)
        lagging_report(ctl, "r2", R2, ctl.read(lambda uow: uow.repo.revision()), unexpected=1)  # a failed delete
        assert state(ctl, "gone")[0] == "withdrawing"
        report(ctl, "r2", R2)
        assert state(ctl, "gone")[0] == "withdrawn"
        assert ("route.withdrawn", "gone") in [(k, n) for k, n, _ in events(ctl)]


def test_agent_mode_does_not_wait_for_a_router_that_is_down(ctl: Controller, clock: Clock) -> None:
    node(ctl, "gone", "192.168.1.11")
    two_routers_up(ctl)
    report(ctl, "r1", R1, ("gone", 1, "programmed"))
    report(ctl, "r2", R2, ("gone", 1, "programmed"))
    before = ctl.read(lambda uow: uow.repo.revision())
    nodes.delete(ctl, token=ADMIN, name="gone")
    lagging_report(ctl, "r1", R1, before)
    lagging_report(ctl, "r2", R2, before)
    assert state(ctl, "gone")[0] == "withdrawing"
    clock.now += 5
    report(ctl, "r1", R1)  # r2 stays silent
    assert state(ctl, "gone")[0] == "withdrawing"
    clock.now += 6
    assert routers.mark_down(ctl) == ["r2"]
    assert state(ctl, "gone")[0] == "withdrawn"


def test_agent_mode_with_no_router_left_settles_on_the_reaper_pass(ctl: Controller, clock: Clock) -> None:
    node(ctl, "gone", "192.168.1.11")
    routers.join(ctl, token=BOOT, name="r1", secret=R1)
    report(ctl, "r1", R1, ("gone", 1, "programmed"))
    clock.now += 11
    routers.mark_down(ctl)  # r1 down: "no router agent is up"
    nodes.delete(ctl, token=ADMIN, name="gone")
    assert state(ctl, "gone")[0] == "withdrawing"
    routers.mark_down(ctl)  # the next reaper pass: no router is watching
    assert state(ctl, "gone")[0] == "withdrawn"
