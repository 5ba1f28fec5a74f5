"""The HA lab's pure parts (`--routers 2 --controllers 2`): names and addresses, the controllers' settings, the
agents' command lines, keepalived.conf, PostgreSQL's access rules, the state file and the status keys.
No namespaces, no processes."""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import pytest

from hubnet.lab import members, pgdb, vrrp
from hubnet.lab.errors import PrerequisiteMissing
from hubnet.lab.plan import PlanError, make_plan
from hubnet.lab.state import LabState, StateStore
from hubnet.lab.status import status
from hubnet.server.settings import Settings


def test_default_lab_is_unchanged() -> None:
    plan = make_plan("lab", 2, 1)
    assert not plan.ha and plan.routers == () and plan.controllers == () and plan.db is None
    assert plan.switch_netns == plan.router_netns == plan.controller_netns == "hnlab-lab-router"
    assert plan.controller_urls == [plan.controller_url] == ["http://192.168.1.1:6780"]
    with pytest.raises(PlanError):
        _ = plan.db_url


def test_ha_plan_names_and_addresses() -> None:
    plan = make_plan("lab", 2, 1, routers=2, controllers=2)
    assert plan.ha and plan.switch_netns == "hnlab-lab-sw"
    members_ = [*plan.routers, *plan.controllers, plan.db]
    assert [(m.name, m.netns, m.port, [str(a) for a in m.addresses], m.priority) for m in members_ if m] == [
        ("r1", "hnlab-lab-r1", "hnlab-r1", ["192.168.1.3", "fd00:192:168:1::3"], 150),
        ("r2", "hnlab-lab-r2", "hnlab-r2", ["192.168.1.4", "fd00:192:168:1::4"], 100),
        ("c1", "hnlab-lab-c1", "hnlab-c1", ["192.168.1.2", "fd00:192:168:1::2"], 0),
        ("c2", "hnlab-lab-c2", "hnlab-c2", ["192.168.1.5", "fd00:192:168:1::5"], 0),
        ("db", "hnlab-lab-db", "hnlab-db", ["192.168.1.6", "fd00:192:168:1::6"], 0),
    ]
    assert [str(a) for a in plan.router_addresses] == ["192.168.1.1", "fd00:192:168:1::1"]  # the VRRP address
    assert plan.router_netns == "hnlab-lab-r1"  # the preferred master
    assert plan.controller_urls == ["http://192.168.1.2:6780", "http://192.168.1.5:6780"]
    assert plan.controller_netns == "hnlab-lab-c1" and plan.controller_url == "http://192.168.1.2:6780"
    assert plan.db_url == "postgresql://postgres@192.168.1.6:5432/hubnet"
    assert [n.netns for n in plan.nodes] == ["hnlab-lab-node-1", "hnlab-lab-node-2"]  # nodes as in the plain lab
    assert plan.member("c2").address == ip_address("192.168.1.5")


def test_ha_plan_ipv6_only_brackets_every_url() -> None:
    plan = make_plan("lab", 1, 0, (6,), routers=2, controllers=2)
    assert plan.controller_urls == ["http://[fd00:192:168:1::2]:6780", "http://[fd00:192:168:1::5]:6780"]
    assert plan.db_url == "postgresql://postgres@[fd00:192:168:1::6]:5432/hubnet"
    assert [str(a) for a in plan.routers[1].addresses] == ["fd00:192:168:1::4"]


@pytest.mark.parametrize(
    ("routers", "controllers", "names"),
    [
        pytest.param(2, 1, ["r1", "r2", "c1", "db"], id="two routers, one controller"),
        pytest.param(1, 2, ["r1", "c1", "c2", "db"], id="one router, two controllers"),
    ],
)
def test_any_ha_size_builds_the_ha_topology(routers: int, controllers: int, names: list[str]) -> None:
    plan = make_plan("lab", 1, 0, routers=routers, controllers=controllers)
    assert plan.ha and [m.name for m in (*plan.routers, *plan.controllers, plan.db) if m] == names


def test_ha_names_and_addresses_never_collide_even_at_the_largest_size() -> None:
    plan = make_plan("x", 200, 1, routers=2, controllers=2)
    members_ = [*plan.routers, *plan.controllers, *([plan.db] if plan.db else [])]
    namespaces = [plan.switch_netns, *(m.netns for m in members_), *(n.netns for n in plan.nodes)]
    namespaces += [p.netns for n in plan.nodes for p in n.pods]
    assert len(set(namespaces)) == len(namespaces) and all(n.startswith("hnlab-x-") for n in namespaces)
    ports = [m.port for m in members_] + [n.router_port for n in plan.nodes]
    assert len(set(ports)) == len(ports) and all(len(p) <= 15 for p in ports)  # IFNAMSIZ
    hosts = [a for m in members_ for a in m.addresses] + [a for n in plan.nodes for a in n.addresses]
    hosts += plan.router_addresses
    assert len(set(hosts)) == len(hosts)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"routers": 0}, "--routers must be 1..2", id="no router"),
        pytest.param({"routers": 3}, "--routers must be 1..2", id="three routers"),
        pytest.param({"controllers": 0}, "--controllers must be 1..2", id="no controller"),
        pytest.param({"controllers": 3}, "--controllers must be 1..2", id="three controllers"),
        pytest.param({"routers": 2, "router": "bird"}, "--router bird is a single BGP router", id="BGP router"),
    ],
)
def test_ha_plan_rejects(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        make_plan("lab", 1, 0, **kwargs)


def _state(families: tuple[int, ...] = (4, 6), routers: int = 2, controllers: int = 2) -> LabState:
    return LabState(
        name="lab",
        nodes=2,
        pods=0,
        bootstrap_token="b",
        admin_token="a",
        families=list(families),
        routers=routers,
        controllers=controllers,
    )


@pytest.mark.parametrize("families", [(4, 6), (4,), (6,)])
def test_every_replica_gets_valid_settings_on_the_lab_database_without_a_route_backend(
    families: tuple[int, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = make_plan("lab", 2, 0, families, routers=2, controllers=2)
    store = StateStore("lab", root=tmp_path)
    for member in plan.controllers:
        env = members.controller_env(plan, store, _state(families), member)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = Settings()
        assert settings.route_backend == "none"
        assert settings.db_url == plan.db_url.replace("postgresql://", "postgresql+psycopg://")
        assert settings.listen_host_port == (str(member.addresses[0]), 6780)
        assert [str(a) for a in settings.router_addresses] == [str(a) for a in plan.router_addresses]
        assert settings.state_dir == tmp_path / "lab" / "controllers" / member.name
        assert settings.reaper_interval_seconds == 2.0


def _options(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, word in enumerate(argv) if word == name]


def test_agents_are_given_every_controller(tmp_path: Path) -> None:
    plan = make_plan("lab", 2, 0, routers=2, controllers=2)
    store, state = StateStore("lab", root=tmp_path), _state()
    router = members.router_agent_argv(plan, plan.routers[1], store, state)
    assert router[router.index("router") :][:2] == ["router", "join"]
    assert _options(router, "--controller") == ["http://192.168.1.2:6780", "http://192.168.1.5:6780"]
    assert _options(router, "--name") == ["r2"] and _options(router, "--token") == ["b"]
    assert _options(router, "--state-dir") == [str(tmp_path / "lab" / "routers" / "r2" / "agent")]
    node = members.agent_argv(plan, plan.nodes[0], store, state)
    assert _options(node, "--controller") == ["http://192.168.1.2:6780", "http://192.168.1.5:6780"]
    assert _options(node, "--router") == ["192.168.1.1,fd00:192:168:1::1"]  # the VRRP address
    plain = members.agent_argv(make_plan("lab", 2, 0), plan.nodes[0], store, state)
    assert _options(plain, "--controller") == ["http://192.168.1.1:6780"]


def _blocks(text: str) -> list[Any]:
    """keepalived.conf as nested lists: a word, or [header words, children] for a `{ ... }` block."""
    tokens = text.replace("{", " { ").replace("}", " } ").split("\n")
    stack: list[list[Any]] = [[]]
    for line in tokens:
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[-1] == "{":
            block: list[Any] = [words[:-1], []]
            stack[-1].append(block)
            stack.append(block[1])
        elif words == ["}"]:
            stack.pop()
        else:
            stack[-1].append(" ".join(words))
    assert len(stack) == 1, "unbalanced braces"
    return stack[0]


def _block(blocks: list[Any], *header: str) -> list[Any]:
    found: list[list[Any]] = [b[1] for b in blocks if isinstance(b, list) and b[0] == list(header)]
    assert len(found) == 1, f"{header} not found once in {blocks}"
    return found[0]


def test_keepalived_conf_of_a_dual_stack_router() -> None:
    plan = make_plan("lab", 1, 0, routers=2, controllers=2)
    conf = _blocks(vrrp.render(vrrp.vrrp_router(plan, plan.routers[0])))
    globals_ = _block(conf, "global_defs")
    assert "router_id r1" in globals_ and "vrrp_version 3" in globals_
    assert not any("strict" in line for line in globals_)  # vrrp_strict would add firewall rules and no_accept
    assert _block(_block(conf, "vrrp_sync_group", "hubnet"), "group") == ["hubnet_v4", "hubnet_v6"]
    v4, v6 = _block(conf, "vrrp_instance", "hubnet_v4"), _block(conf, "vrrp_instance", "hubnet_v6")
    for instance in (v4, v6):
        settings = [line for line in instance if isinstance(line, str)]
        assert settings == [
            "state BACKUP",
            "interface hnlab-up0",
            "virtual_router_id 51",
            "priority 150",
            "advert_int 0.1",
        ]  # preemption on (no `nopreempt`): r1 takes the address back
    assert _block(v4, "virtual_ipaddress") == ["192.168.1.1/24 dev hnlab-up0"]
    assert _block(v6, "virtual_ipaddress") == [
        "fe80::1/64 dev hnlab-up0 -nodad",  # RFC 5798: the link-local address first
        "fd00:192:168:1::1/64 dev hnlab-up0 -nodad",
    ]


def test_the_two_routers_differ_only_in_name_and_priority() -> None:
    plan = make_plan("lab", 1, 0, routers=2, controllers=2)
    r1, r2 = (vrrp.render(vrrp.vrrp_router(plan, r)) for r in plan.routers)
    assert r2 == r1.replace("r1", "r2").replace("priority 150", "priority 100")


@pytest.mark.parametrize(("families", "instance"), [((4,), "hubnet_v4"), ((6,), "hubnet_v6")])
def test_keepalived_conf_of_a_single_family_router_has_no_sync_group(families: tuple[int, ...], instance: str) -> None:
    plan = make_plan("lab", 1, 0, families, routers=2, controllers=2)
    conf = _blocks(vrrp.render(vrrp.vrrp_router(plan, plan.routers[1])))
    assert [b[0] for b in conf if isinstance(b, list)] == [["global_defs"], ["vrrp_instance", instance]]
    assert "priority 100" in _block(conf, "vrrp_instance", instance)


@pytest.mark.parametrize(
    ("held", "master"),
    [
        pytest.param({"r1": ["192.168.1.1", "fd00:192:168:1::1"], "r2": []}, "r1", id="r1 holds both"),
        pytest.param({"r1": [], "r2": ["192.168.1.1", "fd00:192:168:1::1"]}, "r2", id="r2 took over"),
        pytest.param({"r1": [], "r2": []}, None, id="nobody"),
        pytest.param({"r1": ["192.168.1.1"], "r2": ["fd00:192:168:1::1"]}, None, id="split between them"),
        pytest.param(
            {"r1": ["192.168.1.1", "fd00:192:168:1::1"], "r2": ["192.168.1.1", "fd00:192:168:1::1"]},
            None,
            id="both: split brain",
        ),
    ],
)
def test_the_master_is_the_one_router_holding_every_virtual_address(
    held: dict[str, list[str]], master: str | None
) -> None:
    assert vrrp.elect(held, 2) == master


def test_postgres_trusts_only_the_lab_underlay() -> None:
    rules = [line.split() for line in pgdb.hba([ip_network("192.168.1.0/24")]).splitlines() if line[:1] != "#"]
    assert rules == [["local", "all", "postgres", "peer"], ["host", "all", "postgres", "192.168.1.0/24", "trust"]]
    settings = pgdb.server_settings([ip_address("192.168.1.6"), ip_address("fd00:192:168:1::6")], Path("/x/db"))
    assert "listen_addresses = '192.168.1.6,fd00:192:168:1::6'" in settings
    assert "unix_socket_directories = '/x/db'" in settings  # never the machine cluster's /var/run/postgresql
    assert "port = 5432" in settings


def test_postgres_bindir_is_the_newest_installed_version(tmp_path: Path) -> None:
    with pytest.raises(PrerequisiteMissing, match="apt-get install postgresql"):
        pgdb.bindir(tmp_path)
    for version in ("9.6", "13", "15"):
        for tool in ("initdb", "pg_ctl"):
            (tmp_path / version / "bin").mkdir(parents=True, exist_ok=True)
            (tmp_path / version / "bin" / tool).touch()
    (tmp_path / "16" / "bin").mkdir(parents=True)  # the client package only: no initdb
    assert pgdb.bindir(tmp_path) == tmp_path / "15" / "bin"


def test_state_records_the_sizes_and_old_files_mean_the_plain_lab(tmp_path: Path) -> None:
    store = StateStore("lab", root=tmp_path)
    store.create(_state(routers=2, controllers=1))
    loaded = store.load()
    assert loaded is not None and loaded.plan().ha and len(loaded.plan().controllers) == 1
    old = loaded.to_json()
    del old["routers"], old["controllers"]
    assert not LabState.from_json(old).plan().ha


def test_status_of_an_ha_lab_adds_its_members_and_keeps_the_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hubnet.lab.state.ROOT", tmp_path)
    data = status(_state(), live=False)
    assert data["router"] == {
        "netns": "hnlab-lab-r1",
        "address": "192.168.1.1",
        "addresses": ["192.168.1.1", "fd00:192:168:1::1"],
    }
    assert data["controller"] == {"url": "http://192.168.1.2:6780"}
    assert data["vrrp"] == {"master": None, "addresses": ["192.168.1.1", "fd00:192:168:1::1"]}
    assert [(r["name"], r["priority"], r["vrrp"], r["routes"]) for r in data["routers"]] == [
        ("r1", 150, "stopped", None),
        ("r2", 100, "stopped", None),
    ]
    assert [(c["name"], c["url"]) for c in data["controllers"]] == [
        ("c1", "http://192.168.1.2:6780"),
        ("c2", "http://192.168.1.5:6780"),
    ]
    assert data["database"] == {
        "netns": "hnlab-lab-db",
        "url": "postgresql://postgres@192.168.1.6:5432/hubnet",
        "running": False,
    }
    plain = status(_state(routers=1, controllers=1), live=False)
    assert not {"vrrp", "routers", "controllers", "database"} & set(plain)
