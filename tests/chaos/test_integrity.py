"""`GET /v1/check` / `hubnet check` on a real controller programming a real router namespace (kernel backend).

A clean 200-node cluster reports 0 problems (exit 0). Then 5 faults of each of the 7 kinds are injected where they
happen in life — rows edited in the database, routes changed with `ip route` in the router namespace, wrong
bridge state in the agents' heartbeats — and exactly those 35 are reported (exit 2).
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from tests.chaos.support import Fleet, address, hubnet_cli, ip_route, kernel_server, owned_routes, router_netns
from tests.chaos.support import wait_for as wait
from tests.integration.support import Server, sql, without_overlap_guard
from tests.support.prereq import need_root_netns

pytestmark = pytest.mark.netns

NODES = 200
KINDS = (
    "subnet-overlap",
    "subnet-outside-pools",
    "route-missing",
    "route-foreign",
    "route-orphan",
    "route-next-hop",
    "bridge-gateway",
)


@pytest.fixture
def router() -> Iterator[str]:
    need_root_netns()
    with router_netns() as ns:
        yield ns


def _converged(fleet: Fleet, ns: str) -> bool:
    rows = sql(fleet.server.db_url, "SELECT subnet, address FROM nodes WHERE state <> 'released'")
    return owned_routes(ns) == {(str(s), str(a)) for s, a in rows}


def _found(report: dict[str, object]) -> set[tuple[str, str]]:
    problems = report["problems"]
    assert isinstance(problems, list)
    return {(p["kind"], p["node"] or p["subject"]) for p in problems}


def test_clean_cluster_then_exactly_the_injected_faults(router: str, tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    server = kernel_server(f"sqlite:///{tmp_path / 'state' / 'hubnet.db'}", tmp_path, router)
    fleet = Fleet(server)
    server.start()
    try:
        fleet.register([(f"n-{i:03d}", address(i)) for i in range(NODES)])
        wait(lambda: _converged(fleet, router), 30, what="200 routes programmed")
        fleet.report_bridges()
        clean = fleet.check()
        assert clean["ok"] and clean["problems"] == [], clean["problems"]
        assert clean["checked"] == {"nodes": NODES, "routes": NODES, "bridges": NODES}
        cli = hubnet_cli(server, "check")
        assert cli.returncode == 0, cli.stdout + cli.stderr
        assert "0 problem(s)" in cli.stdout

        used: set[str] = set()
        expected = _inject_database_faults(fleet, used)
        wait(lambda: _converged(fleet, router), 30, what="routes to follow the edited rows")
        # From here on the router's table must stay as we break it: a dry-run controller only reads it.
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL
        server.extra_env["HUBNET_ROUTE_DRY_RUN"] = "true"
        server.start()
        expected |= _inject_route_faults(fleet, router, used)
        expected |= _inject_bridge_faults(fleet, used)

        report = fleet.check()
        assert not report["ok"]
        assert _found(report) == expected
        assert report["counts"] == {**dict.fromkeys(report["counts"], 0), **dict.fromkeys(KINDS, 5)}  # others: 0
        cli = hubnet_cli(server, "check", "--output", "json")
        assert cli.returncode == 2, cli.stderr
        assert _found(json.loads(cli.stdout)) == expected
        foreign = [p for p in report["problems"] if p["kind"] == "route-foreign"]
        assert all("via 172.16.0.77 proto 4" in p["detail"] for p in foreign), foreign
        aged = [p for p in report["problems"] if p["kind"] == "bridge-gateway"]
        assert all(p["age_seconds"] is not None and 0 <= p["age_seconds"] < 60 for p in aged), aged
        assert all("s old)" in p["detail"] for p in aged), aged
    finally:
        server.stop()


def _pick(fleet: Fleet, used: set[str], count: int = 5) -> list[str]:
    names = [n for n in sorted(fleet.secrets) if n not in used][:count]
    used.update(names)
    return names


def _inject_database_faults(fleet: Fleet, used: set[str]) -> set[tuple[str, str]]:
    """5 overlaps (a /24 widened to the /23 that covers its neighbour) and 5 subnets moved out of every pool."""
    by_subnet = {IPv4Network(s): n for n, s in fleet.subnets.items()}
    expected: set[tuple[str, str]] = set()
    widened = 0
    for net, name in sorted(by_subnet.items()):
        wide = net.supernet(new_prefix=23)
        neighbour = by_subnet.get(next(s for s in wide.subnets(new_prefix=24) if s != net))
        if widened == 5 or net.network_address != wide.network_address or neighbour is None or net.prefixlen != 24:
            continue
        if {name, neighbour} & used:
            continue
        with without_overlap_guard(fleet.server.db_url):  # the schema refuses it since 0011b: an older database
            _set_subnet(fleet.server, name, str(wide))
        used.update({name, neighbour})
        expected.add(("subnet-overlap", neighbour))
        widened += 1
    assert widened == 5
    for k, name in enumerate(_pick(fleet, used)):
        _set_subnet(fleet.server, name, f"10.99.{k}.0/24")
        expected.add(("subnet-outside-pools", name))
    return expected


def _set_subnet(server: Server, name: str, subnet: str) -> None:
    sql(server.db_url, "UPDATE nodes SET subnet = :s WHERE name = :n", {"s": subnet, "n": name})


def _inject_route_faults(fleet: Fleet, ns: str, used: set[str]) -> set[tuple[str, str]]:
    """In the router namespace: 5 owned routes deleted, 5 replaced by a foreign (static) route, 5 owned routes
    nobody holds, 5 pointed elsewhere."""
    expected: set[tuple[str, str]] = set()
    for name in _pick(fleet, used):
        ip_route(ns, "del", fleet.db_subnet(name), "proto", "44")
        expected.add(("route-missing", name))
    for name in _pick(fleet, used):
        ip_route(ns, "del", fleet.db_subnet(name), "proto", "44")
        ip_route(ns, "add", fleet.db_subnet(name), "via", "172.16.0.77", "proto", "static")
        expected.add(("route-foreign", name))
    for k in range(5):
        prefix = f"10.244.{240 + k}.0/24"
        ip_route(ns, "add", prefix, "via", "172.16.0.50", "proto", "44")
        expected.add(("route-orphan", prefix))
    for name in _pick(fleet, used):
        ip_route(ns, "replace", fleet.db_subnet(name), "via", "172.16.0.99", "proto", "44")
        expected.add(("route-next-hop", name))
    return expected


def _inject_bridge_faults(fleet: Fleet, used: set[str]) -> set[tuple[str, str]]:
    """After the restart every agent reports again; 5 report a bridge without their gateway."""
    wrong = _pick(fleet, used)
    bad = {name: (["10.1.2.3/24"] if k % 2 else []) for k, name in enumerate(wrong)}
    fleet.report_bridges(bad)
    return {("bridge-gateway", name) for name in wrong}
