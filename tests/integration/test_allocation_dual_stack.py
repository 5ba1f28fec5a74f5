"""Dual-stack allocation through the real server on SQLite and PostgreSQL (docs/dual-stack.md): one subnet per
family, a /56 holds exactly 256 /64s, IPv6-only clusters, reclaim per family, and the schema's own guarantees."""

from __future__ import annotations

import itertools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_network
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, pool, text
from sqlalchemy.exc import IntegrityError

from tests.integration.conftest import fresh_db
from tests.integration.support import Databases, Server, new_secret, running, sql, unique_address

V4_POOL, V6_POOL = IPv4Network("10.244.0.0/16"), IPv6Network("fd00:10:244::/56")
DUAL = {
    "HUBNET_CLUSTER_CIDR": f"{V4_POOL},{V6_POOL}",
    "HUBNET_SERVICE_CIDR": "10.96.0.0/12,fd00:10:96::/112",
    "HUBNET_ROUTER_ADDRESS": "192.168.255.254,fd00:ffff::fe",
}
_v6 = itertools.count(1)


def v6_address() -> str:
    """An IPv6 underlay address no other call in this process returned (outside every pool and service CIDR)."""
    return str(IPv6Address("fd00:172:16::") + next(_v6))


def dual_body(name: str, *, v4: bool = True, v6: bool = True, secret: str | None = None) -> dict[str, Any]:
    addresses = ([unique_address()] if v4 else []) + ([v6_address()] if v6 else [])
    return {"name": name, "address": addresses[0], "addresses": addresses, "secret": secret or new_secret()}


def overlapping_live(db_url: str, column: str) -> int:
    """Pairs of overlapping live subnets of one family column, counted from the stored rows."""
    query = f"SELECT {column} FROM nodes WHERE state <> 'released' AND {column} IS NOT NULL"
    nets = sorted(
        (ip_network(str(s)) for (s,) in sql(db_url, query)), key=lambda n: (int(n.network_address), -n.prefixlen)
    )
    return sum(1 for a, b in itertools.pairwise(nets) if a.overlaps(b))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def dual(request: pytest.FixtureRequest, databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Any:
    url = fresh_db(databases, str(request.param))
    with running(Server(url, Path(tmp_path_factory.mktemp("dual")), extra_env=DUAL)) as srv:
        yield srv


def test_a_dual_stack_node_gets_one_subnet_of_each_family(dual: Server) -> None:
    body = dual_body("ds-one")
    with dual.client(dual.bootstrap) as boot:
        answer = boot.post("/v1/nodes", json=body)
    assert answer.status_code == 201, answer.text
    node = answer.json()
    v4, v6 = (ip_network(s) for s in node["subnets"])
    assert isinstance(v4, IPv4Network) and v4.prefixlen == 24 and v4.subnet_of(V4_POOL)
    assert isinstance(v6, IPv6Network) and v6.prefixlen == 64 and v6.subnet_of(V6_POOL)
    assert node["subnet"] == str(v4) and node["address"] == body["address"]
    assert node["addresses"] == body["addresses"]
    assert node["gateways"] == [str(v4.network_address + 1), str(v6.network_address + 1)]
    assert node["router_addresses"] == ["192.168.255.254", "fd00:ffff::fe"]
    assert node["cluster_cidrs"] == [str(V4_POOL), str(V6_POOL)]
    row = sql(dual.db_url, "SELECT subnet, subnet6, address6, net6_lo, net6_hi FROM nodes WHERE name = 'ds-one'")
    subnet, subnet6, address6, lo, hi = row[0]
    assert (str(subnet), ip_network(str(subnet6)), str(address6)) == (str(v4), v6, body["addresses"][1])
    assert (lo, hi) == (f"{int(v6.network_address):032x}", f"{int(v6.broadcast_address):032x}")


def test_rejoin_adds_a_family_and_refuses_dropping_one(dual: Server) -> None:
    """A node registered IPv4-only gets its IPv6 subnet when it re-joins with an IPv6 address; a re-join without
    that address is then refused (422 `addresses`): the IPv6 subnet's pods could no longer be reached."""
    body = dual_body("ds-grow", v6=False)
    with dual.client(dual.bootstrap) as boot:
        first = boot.post("/v1/nodes", json=body).json()
        assert len(first["subnets"]) == 1
        grown = {**body, "addresses": [body["address"], v6_address()]}
        again = boot.post("/v1/nodes", json=grown)
        assert again.status_code == 200, again.text
        assert again.json()["subnets"][0] == first["subnet"] and len(again.json()["subnets"]) == 2
        assert again.json()["route_state"] == "pending"
        dropped = boot.post("/v1/nodes", json=body)
        assert dropped.status_code == 422, dropped.text
        assert [e["field"] for e in dropped.json()["errors"]] == ["addresses"]
        assert boot.post("/v1/nodes", json=grown).json()["subnets"] == again.json()["subnets"]


def test_released_dual_stack_node_gets_both_subnets_back(dual: Server) -> None:
    body = dual_body("ds-back")
    with dual.client(dual.bootstrap) as boot, dual.client(dual.admin) as admin:
        first = boot.post("/v1/nodes", json=body).json()
        assert admin.delete("/v1/nodes/ds-back").status_code == 204
        row = sql(dual.db_url, "SELECT state, subnet, subnet6 FROM nodes WHERE name = 'ds-back'")[0]
        assert row[0] == "released"
        again = boot.post("/v1/nodes", json=body)
        assert again.status_code == 200, again.text
        assert again.json()["subnets"] == first["subnets"]
        assert again.json()["generation"] == first["generation"] + 1


def test_schema_refuses_a_second_live_holder_of_an_ipv6_subnet_or_address(dual: Server) -> None:
    with dual.client(dual.bootstrap) as boot:
        node = boot.post("/v1/nodes", json=dual_body("ds-schema")).json()
    v6 = IPv6Network(node["subnets"][1])
    insert = (
        "INSERT INTO nodes (name, address, subnet, subnet6, address6, state, generation, secret_hash, expires_at, "
        "route_state, created_at, updated_at, net6_lo, net6_hi) VALUES (:name, :address, :subnet, :subnet6, "
        ":address6, 'active', 1, 'h', 0, 'pending', 0, 0, :lo, :hi)"
    )
    engine = create_engine(dual.db_url, poolclass=pool.NullPool)

    def put(**values: Any) -> None:
        net = IPv6Network(values["subnet6"]) if values["subnet6"] else None
        row = {"name": "ds-intruder", "address": unique_address(), "subnet": None, "address6": v6_address()}
        row.update(lo=f"{int(net.network_address):032x}" if net else None)
        row.update(hi=f"{int(net.broadcast_address):032x}" if net else None)
        with engine.begin() as conn:
            conn.execute(text(insert), {**row, **values})

    try:
        with pytest.raises(IntegrityError):  # the same live /64: the partial unique index, on both databases
            put(subnet6=str(v6))
        with pytest.raises(IntegrityError):  # the same live IPv6 underlay address
            put(subnet6="fd00:10:244:ff::/64", address6=node["addresses"][1])
        with pytest.raises(IntegrityError):  # no subnet at all: the CHECK
            put(subnet6=None)
        with pytest.raises(IntegrityError):  # an overlapping live /63: PostgreSQL's exclusion, SQLite's trigger
            put(subnet6=str(v6.supernet()))
    finally:
        engine.dispose()
    assert overlapping_live(dual.db_url, "subnet6") == 0


def _server(databases: Databases, db_kind: str, tmp_path: Path, **env: str) -> Server:
    return Server(fresh_db(databases, db_kind), tmp_path, extra_env={**DUAL, **env})


def test_a_56_holds_exactly_256_64s_then_a_typed_409_and_no_partial_row(
    databases: Databases, db_kind: str, tmp_path: Path
) -> None:
    """The IPv4 pool has room (/26s of a /16: 1024), the IPv6 /56 has 256 /64s: registration 257 is refused 409
    pool-exhausted as problem+json, and writes nothing (no row holding only an IPv4 subnet)."""
    server = _server(databases, db_kind, tmp_path, HUBNET_NODE_PREFIX="26")
    with running(server), server.client(server.bootstrap) as boot:
        bodies = [dual_body(f"fill-{i}") for i in range(257)]
        with ThreadPoolExecutor(8) as workers:
            answers = list(workers.map(lambda b: boot.post("/v1/nodes", json=b), bodies[:256]))
        assert Counter(a.status_code for a in answers) == {201: 256}
        v6 = {IPv6Network(a.json()["subnets"][1]) for a in answers}
        assert len(v6) == 256 and all(s.prefixlen == 64 and s.subnet_of(V6_POOL) for s in v6)
        assert v6 == set(V6_POOL.subnets(new_prefix=64))
        high_water = sql(server.db_url, "SELECT cidr, high_water FROM pools ORDER BY id")
        refused = boot.post("/v1/nodes", json=bodies[256])
        assert refused.status_code == 409
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"] == "urn:hubnet:problem:pool-exhausted"
        assert "IPv6" in refused.json()["detail"]
        # an IPv4-only node still fits: only the family that is full refuses
        v4_only = boot.post("/v1/nodes", json=dual_body("fill-v4", v6=False))
        assert v4_only.status_code == 201 and len(v4_only.json()["subnets"]) == 1
    assert sql(server.db_url, "SELECT count(*) FROM nodes WHERE name = 'fill-256'") == [(0,)]
    assert sql(server.db_url, "SELECT count(*) FROM nodes WHERE subnet6 IS NOT NULL") == [(256,)]
    assert sql(server.db_url, "SELECT cidr, high_water FROM pools ORDER BY id")[1] == high_water[1]
    assert overlapping_live(server.db_url, "subnet6") == 0 and overlapping_live(server.db_url, "subnet") == 0


def test_ipv6_subnet_is_reused_after_release_and_the_old_holder_is_refused(
    databases: Databases, db_kind: str, tmp_path: Path
) -> None:
    """A full /62 (four /64s): a's IPv6 subnet goes to e while a is away; a gets 409 subnet-reissued naming it,
    although its IPv4 subnet is still free."""
    server = _server(databases, db_kind, tmp_path, HUBNET_CLUSTER_CIDR=f"{V4_POOL},fd00:10:244::/62")
    bodies = {n: dual_body(f"re-{n}") for n in "abcde"}
    with running(server), server.client(server.bootstrap) as boot, server.client(server.admin) as admin:
        subnets = {n: boot.post("/v1/nodes", json=bodies[n]).json()["subnets"] for n in "abcd"}
        assert boot.post("/v1/nodes", json=bodies["e"]).status_code == 409
        assert admin.delete("/v1/nodes/re-a").status_code == 204
        e = boot.post("/v1/nodes", json=bodies["e"]).json()
        assert e["subnets"][1] == subnets["a"][1] and e["subnets"][0] != subnets["a"][0]
        refused = boot.post("/v1/nodes", json=bodies["a"])
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"] == "urn:hubnet:problem:subnet-reissued"
        assert refused.json()["subnet"] == subnets["a"][1]
    assert overlapping_live(server.db_url, "subnet6") == 0


def test_ipv6_only_cluster(databases: Databases, db_kind: str, tmp_path: Path) -> None:
    env = {
        "HUBNET_CLUSTER_CIDR": "fd00:10:244::/60",
        "HUBNET_SERVICE_CIDR": "fd00:10:96::/112",
        "HUBNET_ROUTER_ADDRESS": "fd00:ffff::fe",
    }
    server = _server(databases, db_kind, tmp_path, **env)
    with running(server), server.client(server.bootstrap) as boot:
        answers = [boot.post("/v1/nodes", json=dual_body(f"six-{i}", v4=False)) for i in range(16)]
        assert [a.status_code for a in answers] == [201] * 16
        nodes = [a.json() for a in answers]
        assert {n["subnet"] for n in nodes} == {str(s) for s in IPv6Network("fd00:10:244::/60").subnets(4)}
        assert all(n["subnets"] == [n["subnet"]] and n["address"] == n["addresses"][0] for n in nodes)
        assert nodes[0]["router_address"] == "fd00:ffff::fe"
        assert boot.post("/v1/nodes", json=dual_body("six-16", v4=False)).json()["type"].endswith("pool-exhausted")
        v4_only = boot.post("/v1/nodes", json=dual_body("six-v4", v6=False))
        assert v4_only.status_code == 422 and [e["field"] for e in v4_only.json()["errors"]] == ["addresses"]
        taken = boot.post("/v1/nodes", json=dual_body("six-0", v4=False))  # another secret for a live name
        assert taken.status_code == 409 and taken.json()["type"].endswith("name-taken")
    rows = sql(server.db_url, "SELECT count(*) FROM nodes WHERE subnet IS NULL AND address IS NULL")
    assert rows == [(16,)]


def test_sqlite_allocation_queries_of_both_families_are_index_searches(databases: Databases) -> None:
    """O(1) per allocation at any table size: SQLite's plan for every hot-path question of both families is an
    index SEARCH, never a SCAN of nodes (the IPv6 range query runs on the 32-digit hex columns)."""
    from sqlalchemy import event

    from hubnet.server.db.migrate import upgrade
    from hubnet.server.db.repository import Repository
    from hubnet.server.domain.records import PoolRecord

    url = fresh_db(databases, "sqlite")
    upgrade(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    plans: list[list[str]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def explain(conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().startswith("SELECT") and "FROM nodes" in statement:
            cursor = conn.connection.cursor()
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            plans.append([str(row[-1]) for row in cursor.fetchall()])

    try:
        with engine.begin() as conn:
            repo = Repository(conn, "sqlite")
            for subnet, address, pool_row in (
                ("10.244.7.0/24", "172.16.0.9", PoolRecord(1, "10.244.0.0/16", 24, 0)),
                ("fd00:10:244:7::/64", "fd00:172:16::9", PoolRecord(2, "fd00:10:244::/56", 64, 0)),
            ):
                repo.subnet_in_use(subnet)
                repo.address_holder(address)
                repo.oldest_released(pool_row)
    finally:
        engine.dispose()
    assert len(plans) == 6
    for plan in plans:
        steps = [step for step in plan if step.startswith(("SEARCH", "SCAN"))]
        assert steps and all(step.startswith("SEARCH nodes USING") for step in steps), plan
    assert any("ix_nodes_net6_lo_live" in step for plan in plans for step in plan)
