"""`hubnet server` with bad settings: a short message naming the variable and a non-zero exit, never a traceback;
settings that make part of the controller unusable start it with a WARNING naming the variable."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.integration.conftest import fresh_db
from tests.integration.support import Databases, Server, free_port, node_body, run_hubnet, running

MISSING_NETNS = f"hubnet-missing-{secrets.token_hex(3)}"

# name: (environment, the variable the message must name)
BAD_SETTINGS: dict[str, tuple[dict[str, str], str]] = {
    "listen without a port": ({"HUBNET_LISTEN": "nohost"}, "HUBNET_LISTEN"),
    "listen port out of range": ({"HUBNET_LISTEN": "127.0.0.1:70000"}, "HUBNET_LISTEN"),
    "listen port zero": ({"HUBNET_LISTEN": "127.0.0.1:0"}, "HUBNET_LISTEN"),
    "listen host unresolvable": ({"HUBNET_LISTEN": "no-such-host.invalid:6780"}, "HUBNET_LISTEN"),
    "route backend typo": ({"HUBNET_ROUTE_BACKEND": "kernal"}, "HUBNET_ROUTE_BACKEND"),
    "kernel route proto reserved": (
        {"HUBNET_ROUTE_BACKEND": "kernel", "HUBNET_ROUTE_PROTO": "3"},
        "HUBNET_ROUTE_PROTO",
    ),
    "router netns missing": (
        {"HUBNET_ROUTE_BACKEND": "kernel", "HUBNET_ROUTER_NETNS": MISSING_NETNS},
        "HUBNET_ROUTER_NETNS",
    ),
    "database url mysql": ({"HUBNET_DATABASE_URL": "mysql://hubnet@127.0.0.1/hubnet"}, "HUBNET_DATABASE_URL"),
    "database url without scheme": ({"HUBNET_DATABASE_URL": "/var/lib/hubnet/hubnet.db"}, "HUBNET_DATABASE_URL"),
    "log level unknown": ({"HUBNET_LOG_LEVEL": "verbose"}, "HUBNET_LOG_LEVEL"),
    "cluster cidr loopback": ({"HUBNET_CLUSTER_CIDR": "127.0.0.0/16"}, "HUBNET_CLUSTER_CIDR"),
    "cluster cidr multicast": ({"HUBNET_CLUSTER_CIDR": "224.0.0.0/16"}, "HUBNET_CLUSTER_CIDR"),
    "cluster cidr this-network": ({"HUBNET_CLUSTER_CIDR": "0.0.0.0/16"}, "HUBNET_CLUSTER_CIDR"),
    "router inside the cluster cidr": ({"HUBNET_ROUTER_ADDRESS": "10.244.0.1"}, "HUBNET_ROUTER_ADDRESS"),
    "pool warning over 100 percent": ({"HUBNET_POOL_WARN_FREE": "150%"}, "HUBNET_POOL_WARN_FREE"),
    # dual-stack: comma-separated lists, at most one per family
    "cluster cidr empty": ({"HUBNET_CLUSTER_CIDR": " , "}, "HUBNET_CLUSTER_CIDR"),
    "two IPv4 cluster cidrs": ({"HUBNET_CLUSTER_CIDR": "10.244.0.0/16,10.245.0.0/16"}, "HUBNET_CLUSTER_CIDR"),
    "two IPv6 cluster cidrs": ({"HUBNET_CLUSTER_CIDR": "fd00:10:244::/56,fd00:10:245::/56"}, "HUBNET_CLUSTER_CIDR"),
    "IPv6 cluster cidr link-local": ({"HUBNET_CLUSTER_CIDR": "10.244.0.0/16,fe80::/56"}, "HUBNET_CLUSTER_CIDR"),
    "IPv6 cluster cidr with a zone": ({"HUBNET_CLUSTER_CIDR": "fd00:10:244::%eth0/56"}, "HUBNET_CLUSTER_CIDR"),
    "IPv6 cluster cidr with host bits": ({"HUBNET_CLUSTER_CIDR": "fd00:10:244::1/56"}, "HUBNET_CLUSTER_CIDR"),
    "two IPv4 service cidrs": ({"HUBNET_SERVICE_CIDR": "10.96.0.0/12,10.112.0.0/12"}, "HUBNET_SERVICE_CIDR"),
    "two IPv6 router addresses": ({"HUBNET_ROUTER_ADDRESS": "fd00:ff::1,fd00:ff::2"}, "HUBNET_ROUTER_ADDRESS"),
    "IPv6 node prefix past /126": ({"HUBNET_NODE_PREFIX_V6": "127"}, "HUBNET_NODE_PREFIX_V6"),
    "IPv6 node prefix shorter than the pool": (
        {"HUBNET_CLUSTER_CIDR": "fd00:10:244::/56", "HUBNET_NODE_PREFIX_V6": "48"},
        "HUBNET_NODE_PREFIX_V6",
    ),
    "IPv6 node prefix cutting more than 65,536 subnets": (
        {"HUBNET_CLUSTER_CIDR": "10.244.0.0/16,fd00:10:244::/56", "HUBNET_NODE_PREFIX_V6": "73"},
        "HUBNET_NODE_PREFIX_V6",
    ),
    "router inside the IPv6 cluster cidr": (
        {"HUBNET_CLUSTER_CIDR": "10.244.0.0/16,fd00:10:244::/56", "HUBNET_ROUTER_ADDRESS": "10.1.0.1,fd00:10:244::1"},
        "HUBNET_ROUTER_ADDRESS",
    ),
}


@pytest.mark.parametrize(("env", "variable"), BAD_SETTINGS.values(), ids=BAD_SETTINGS.keys())
def test_bad_setting_stops_the_server_with_a_message(env: dict[str, str], variable: str, tmp_path: Path) -> None:
    defaults = {"HUBNET_STATE_DIR": str(tmp_path), "HUBNET_LISTEN": f"127.0.0.1:{free_port()}"}
    done = run_hubnet(["server"], {**defaults, **env})
    assert done.returncode != 0, done.stderr
    assert variable in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr) < 600, done.stderr
    assert not (tmp_path / "hubnet.db").exists()  # refused before touching the database


def _started_log(databases: Databases, tmp_path: Path, **env: str) -> str:
    """The log of a server started with `env` over the defaults, once it answered ready and stopped."""
    server = Server(fresh_db(databases, "sqlite"), tmp_path, extra_env=env)
    with running(server):
        pass
    return server.log_tail()


def test_empty_admin_tokens_start_with_a_warning(databases: Databases, tmp_path: Path) -> None:
    log = _started_log(databases, tmp_path, HUBNET_ADMIN_TOKENS="")
    assert "WARNING" in log and "HUBNET_ADMIN_TOKENS" in log, log
    assert "HUBNET_BOOTSTRAP_TOKENS" not in log, log  # bootstrap tokens are set: nodes can join


def test_no_tokens_at_all_warn_that_no_node_can_join(databases: Databases, tmp_path: Path) -> None:
    log = _started_log(databases, tmp_path, HUBNET_ADMIN_TOKENS="", HUBNET_BOOTSTRAP_TOKENS="")
    assert "HUBNET_ADMIN_TOKENS" in log and "HUBNET_BOOTSTRAP_TOKENS" in log, log


def test_admin_tokens_set_start_without_a_token_warning(databases: Databases, tmp_path: Path) -> None:
    log = _started_log(databases, tmp_path, HUBNET_BOOTSTRAP_TOKENS="")
    assert "TOKENS" not in log, log  # an admin can create bootstrap tokens through /v1/tokens


def test_one_pool_per_family_from_the_comma_list(databases: Databases, tmp_path: Path) -> None:
    env = {
        "HUBNET_CLUSTER_CIDR": "fd00:10:244::/56, 10.244.0.0/16",  # any order, spaces allowed: IPv4 first after
        "HUBNET_NODE_PREFIX_V6": "72",
        "HUBNET_SERVICE_CIDR": "10.96.0.0/12,fd00:10:96::/112",
        "HUBNET_ROUTER_ADDRESS": "fd00:ff::fe,192.168.255.254",
    }
    with running(Server(fresh_db(databases, "sqlite"), tmp_path, extra_env=env)) as server:
        with server.client(server.admin) as admin:
            pools = [
                (p["cidr"], p["family"], p["node_prefix"], p["total"]) for p in admin.get("/v1/pools").json()["items"]
            ]
        assert pools == [("10.244.0.0/16", 4, 24, 256), ("fd00:10:244::/56", 6, 72, 65536)]


def test_an_ipv6_only_cluster_serves_ipv6_nodes_and_refuses_ipv4_ones(databases: Databases, tmp_path: Path) -> None:
    env = {"HUBNET_CLUSTER_CIDR": "fd00:10:244::/56", "HUBNET_ROUTER_ADDRESS": "fd00:ff::fe"}
    server = Server(fresh_db(databases, "sqlite"), tmp_path, extra_env=env)
    with running(server), server.client(server.admin) as admin, server.client(server.bootstrap) as boot:
        assert [p["cidr"] for p in admin.get("/v1/pools").json()["items"]] == ["fd00:10:244::/56"]
        body = node_body(1, prefix="v6")
        refused = boot.post("/v1/nodes", json=body)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "address", refused.text
        joined = boot.post("/v1/nodes", json={**body, "address": "fd00:1::5"})
        assert joined.status_code == 201, joined.text
        node = joined.json()
        assert (node["address"], node["subnet"], node["gateway"], node["router_address"]) == (
            "fd00:1::5",
            "fd00:10:244::/64",
            "fd00:10:244::1",
            "fd00:ff::fe",
        )
