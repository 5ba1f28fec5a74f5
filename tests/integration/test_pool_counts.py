"""The kept counts (hubnet.server.db.counts, migration 0012) against a real COUNT, on SQLite and PostgreSQL: after
registrations, re-joins, deletes, lease expiry, reclaims, refused and rolled-back writes, hand edits, and two
controllers registering at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hubnet.server.db import migrate
from hubnet.server.domain.errors import HubnetError, InvalidInput
from hubnet.server.services import integrity, nodes, pools
from hubnet.server.services.context import Controller
from hubnet.server.services.integrity import BridgeReports
from hubnet.server.services.ports import UnitOfWork
from hubnet.server.services.reaper import reap
from tests.integration.conftest import fresh_db
from tests.integration.support import Databases, ManualClock, Server, clocked_controller, node_body, sql

TTL, GRACE = 60.0, 120.0
POOL = "10.244.0.0/16"
COUNT_LIVE = (
    "SELECT count(*) FROM nodes WHERE state <> 'released' AND ((subnet IS NOT NULL AND pool_id = p.id) "
    "OR (subnet6 IS NOT NULL AND pool6_id = p.id))"
)


@pytest.fixture
def setup(databases: Databases, db_kind: str) -> Iterator[tuple[Controller, ManualClock]]:
    clock = ManualClock()
    url = fresh_db(databases, db_kind)
    ctl = clocked_controller(url, clock, lease_ttl_seconds=TTL, release_grace_seconds=GRACE, quarantine_seconds=0)
    try:
        yield ctl, clock
    finally:
        ctl.close()


def real(ctl: Controller) -> tuple[dict[str, int], dict[str, int]]:
    url = ctl.settings.db_url
    allocated = {str(cidr): int(n) for cidr, n in sql(url, f"SELECT p.cidr, ({COUNT_LIVE}) FROM pools p")}
    states = {str(s): int(n) for s, n in sql(url, "SELECT state, count(*) FROM nodes GROUP BY state")}
    return allocated, states


def served(ctl: Controller) -> tuple[dict[str, int], dict[str, int]]:
    items, _, _ = pools.list_pools(ctl, token="admin")
    states = ctl.read(lambda uow: uow.repo.count_by_state())
    return {p.cidr: p.allocated for p in items}, states


def agree(ctl: Controller) -> dict[str, int]:
    """The served counts equal a real count; returns the allocated per pool."""
    assert served(ctl) == real(ctl)
    assert ctl.read(lambda uow: uow.repo.count_drift()) == []
    return served(ctl)[0]


def secret(i: int) -> str:
    return f"{i:03d}" * 16


def join(ctl: Controller, i: int) -> None:
    nodes.register(ctl, token="boot", name=f"n{i}", address=f"172.16.0.{i + 1}", secret=secret(i), machine_id=None)


def test_counts_follow_every_lifecycle_step(setup: tuple[Controller, ManualClock]) -> None:
    ctl, clock = setup
    assert agree(ctl) == {POOL: 0}
    for i in range(6):
        join(ctl, i)
    assert agree(ctl) == {POOL: 6}
    join(ctl, 0)  # an idempotent re-join changes nothing
    nodes.delete(ctl, token="admin", name="n1")
    nodes.delete(ctl, token="admin", name="n1")  # released already: nothing changes
    assert agree(ctl) == {POOL: 5}
    with pytest.raises(HubnetError):  # refused: the address is another live node's
        nodes.register(ctl, token="boot", name="dup", address="172.16.0.3", secret="d" * 48, machine_id=None)
    assert agree(ctl) == {POOL: 5}
    pools.add_pool(ctl, token="admin", cidr="10.250.0.0/16")
    clock.now += TTL + 1
    for i in (3, 4):
        nodes.heartbeat(ctl, token=secret(i), name=f"n{i}")
    assert reap(ctl) == (3, 0)  # n0, n2, n5 stale: still allocated
    assert agree(ctl) == {POOL: 5, "10.250.0.0/16": 0}
    nodes.heartbeat(ctl, token=secret(2), name="n2")  # stale -> active
    clock.now += GRACE + 1
    assert reap(ctl)[1] == 2  # n0 and n5 released by expiry
    assert agree(ctl)[POOL] == 3
    join(ctl, 5)  # comes back: reclaims its subnet
    join(ctl, 1)
    assert agree(ctl)[POOL] == 5
    sql(ctl.settings.db_url, "DELETE FROM nodes WHERE name = 'n1'")  # by hand: the triggers count it too
    sql(ctl.settings.db_url, "UPDATE nodes SET state = 'released' WHERE name = 'n2'")
    assert agree(ctl)[POOL] == 3


def test_a_rolled_back_write_leaves_the_counts(setup: tuple[Controller, ManualClock]) -> None:
    ctl, _ = setup
    for i in range(3):
        join(ctl, i)

    def half_done(uow: UnitOfWork) -> None:
        node = uow.repo.node("n0", lock=True)
        assert node is not None
        uow.repo.update_node(node.id, state="released", released_at=uow.now)
        uow.repo.delete_node(node.id + 1)
        raise InvalidInput("changed my mind")

    with pytest.raises(InvalidInput):
        ctl.write(half_done)
    assert agree(ctl)[POOL] == 3


def test_drift_is_seen_and_repaired_at_start(setup: tuple[Controller, ManualClock]) -> None:
    ctl, _ = setup
    for i in range(2):
        join(ctl, i)
    sql(ctl.settings.db_url, "UPDATE pools SET allocated = 7")
    sql(ctl.settings.db_url, "UPDATE node_state_counts SET n = 0")
    drift = ctl.read(lambda uow: uow.repo.count_drift())
    assert [subject for subject, _ in drift] == [POOL, "state active"], drift
    assert drift[0][1] == f"pool {POOL}: counter says 7 allocated, a count finds 2"
    report = integrity.run(ctl, token="admin", routes=None, bridges=BridgeReports())
    assert [(p.kind, p.subject) for p in report.problems] == [("count-drift", POOL), ("count-drift", "state active")]
    pools.scan(ctl)
    assert agree(ctl) == {POOL: 2}
    assert integrity.run(ctl, token="admin", routes=None, bridges=BridgeReports()).problems == []


def test_hand_edits_are_flagged_at_once_and_checked_rows_are_vetted(setup: tuple[Controller, ManualClock]) -> None:
    ctl, _ = setup
    for i in range(3):
        join(ctl, i)
    url = ctl.settings.db_url
    unvetted = "SELECT name FROM nodes WHERE NOT vetted ORDER BY name"
    assert sql(url, unvetted) == []  # the controller's own rows
    sql(url, "UPDATE nodes SET subnet = '10.99.0.0/24' WHERE name = 'n1'")
    sql(url, "UPDATE nodes SET expires_at = expires_at + 1 WHERE name = 'n2'")  # not an allocation column
    assert sql(url, unvetted) == [("n1",)]
    _, flagged, _ = pools.list_pools(ctl, token="admin")
    assert [(f.name, f.flags) for f in flagged] == [("n1", ["subnet-outside-pools"])]
    reap(ctl)  # the pass checks it again: still bad, stays unvetted (so still flagged)
    assert [f.name for f in pools.list_pools(ctl, token="admin")[1]] == ["n1"]
    sql(url, "UPDATE nodes SET subnet = '10.244.200.0/24' WHERE name = 'n1'")  # repaired by hand
    assert pools.list_pools(ctl, token="admin")[1] == []
    reap(ctl)
    assert sql(url, unvetted) == []


def test_two_controllers_registering_at_once(databases: Databases, db_kind: str) -> None:
    url = fresh_db(databases, db_kind)
    migrate.upgrade(url)
    clock = ManualClock()
    first, second = (clocked_controller(url, clock) for _ in range(2))
    errors: list[Any] = []

    def run(ctl: Controller, start: int) -> None:
        try:
            for i in range(start, start + 40):
                join(ctl, i)
                if i % 4 == 0:
                    nodes.delete(ctl, token="admin", name=f"n{i}")
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    try:
        threads = [threading.Thread(target=run, args=(c, s)) for c, s in ((first, 0), (second, 100))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert agree(first) == {POOL: 60} and agree(second) == {POOL: 60}
    finally:
        first.close()
        second.close()


def test_two_controller_processes_registering_at_once(databases: Databases, db_kind: str, tmp_path: Path) -> None:
    """Two `hubnet server` processes on one database (PostgreSQL: the HA set-up) register and delete at the same
    time; both serve the real count."""
    url = fresh_db(databases, db_kind)
    first = Server(url, tmp_path / "c1")
    second = Server(url, tmp_path / "c2", admin=first.admin, bootstrap=first.bootstrap)
    for server in (first, second):
        server.log_dir.mkdir()
    first.start()  # creates the schema
    second.start()
    errors: list[str] = []

    def run(server: Server, prefix: str) -> None:
        with server.client(server.bootstrap) as boot, server.client(server.admin) as admin:
            for i in range(30):
                body = node_body(i, prefix=prefix)
                response = boot.post("/v1/nodes", json=body)
                if response.status_code != 201:
                    errors.append(response.text)
                if i % 3 == 0 and admin.delete(f"/v1/nodes/{body['name']}").status_code != 204:
                    errors.append(f"delete {body['name']}")

    try:
        threads = [threading.Thread(target=run, args=(s, p)) for s, p in ((first, "pa"), (second, "pb"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        (count,) = sql(url, "SELECT count(*) FROM nodes WHERE state <> 'released'")[0]
        assert count == 40
        for server in (first, second):
            with server.client(server.admin) as admin:
                assert [p["allocated"] for p in admin.get("/v1/pools").json()["items"]] == [40]
    finally:
        first.stop()
        second.stop()


def test_dual_stack_rows_count_once_in_each_family_pool(setup: tuple[Controller, ManualClock]) -> None:
    ctl, _ = setup
    v6 = "fd00:10:244::/56"
    pools.add_pool(ctl, token="admin", cidr=v6, node_prefix=64)
    for i in range(4):
        addresses = [f"172.16.0.{i + 1}", f"fd00:1::{i + 1:x}"]
        nodes.register(
            ctl,
            token="boot",
            name=f"d{i}",
            address=addresses[0],
            secret=secret(i),
            machine_id=None,
            addresses=addresses,
        )
    join(ctl, 9)  # IPv4 only
    assert agree(ctl) == {POOL: 5, v6: 4}
    nodes.delete(ctl, token="admin", name="d0")
    assert agree(ctl) == {POOL: 4, v6: 3}
    sql(ctl.settings.db_url, "UPDATE nodes SET subnet6 = NULL, pool6_id = NULL, address6 = NULL WHERE name = 'd1'")
    assert agree(ctl) == {POOL: 4, v6: 2}
    join(ctl, 0)  # a new IPv4-only node on the address d0 released
    assert agree(ctl) == {POOL: 5, v6: 2}
