"""Settings validation: what each variable accepts, and that a refusal is located at the variable it is about."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from hubnet.server.settings import Settings

LISTEN: dict[str, tuple[str, tuple[str, int]]] = {
    "ipv4": ("0.0.0.0:6780", ("0.0.0.0", 6780)),
    "name": ("localhost:6780", ("localhost", 6780)),
    "port only": (":443", ("127.0.0.1", 443)),
    "ipv6 in brackets": ("[::1]:6780", ("::1", 6780)),
    "highest port": ("127.0.0.1:65535", ("127.0.0.1", 65535)),
}


@pytest.mark.parametrize(("listen", "expected"), LISTEN.values(), ids=LISTEN.keys())
def test_listen_accepts(listen: str, expected: tuple[str, int], tmp_path: Path) -> None:
    assert Settings(state_dir=tmp_path, listen=listen).listen_host_port == expected


REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "listen without port": ({"listen": "nohost"}, "listen"),
    "listen port 0": ({"listen": "127.0.0.1:0"}, "listen"),
    "listen port too high": ({"listen": "127.0.0.1:65536"}, "listen"),
    "listen port not a number": ({"listen": "127.0.0.1:http"}, "listen"),
    "listen ipv6 without brackets": ({"listen": "::1:6780"}, "listen"),
    "listen brackets around no ipv6": ({"listen": "[nohost]:6780"}, "listen"),
    "backend typo": ({"route_backend": "kernal"}, "route_backend"),
    "kernel proto 4 (static)": ({"route_backend": "kernel", "route_proto": 4}, "route_proto"),
    "proto 3, any backend (nodes use it)": (
        {"route_backend": "fake", "route_proto": 3},
        "route_proto",
    ),
    "database mysql": ({"database_url": "mysql://u:secret@db/hubnet"}, "database_url"),
    "database without scheme": ({"database_url": "hubnet.db"}, "database_url"),
    "log level": ({"log_level": "verbose"}, "log_level"),
    "router down after 0 s": ({"router_down_seconds": 0}, "router_down_seconds"),
    "router down after a negative time": ({"router_down_seconds": -1}, "router_down_seconds"),
}


@pytest.mark.parametrize(("values", "field"), REFUSED.values(), ids=REFUSED.keys())
def test_refused_at_the_variable(values: dict[str, Any], field: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(state_dir=tmp_path, **values)
    assert [e["loc"] for e in caught.value.errors()] == [(field,)]
    assert "secret" not in caught.value.errors()[0]["msg"]  # the message never echoes a database URL's password


ACCEPTED: dict[str, dict[str, Any]] = {
    "kernel proto 5": {"route_backend": "kernel", "route_proto": 5},
    "postgres shorthand": {"database_url": "postgres://hubnet@db/hubnet"},
    "postgresql with psycopg": {"database_url": "postgresql+psycopg://hubnet@db/hubnet"},
    "sqlite file": {"database_url": "sqlite:////var/lib/hubnet/hubnet.db"},
    "log level in capitals": {"log_level": "WARNING"},
    "router down after 0.5 s": {"router_down_seconds": 0.5},
}


@pytest.mark.parametrize("values", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted(values: dict[str, Any], tmp_path: Path) -> None:
    Settings(state_dir=tmp_path, **values)


def test_per_family_lists_are_ordered_ipv4_first(tmp_path: Path) -> None:
    s = Settings(
        state_dir=tmp_path,
        cluster_cidr="fd00:10:244::/56, 10.244.0.0/16",
        service_cidr="fd00:10:96::/112,10.96.0.0/12",
        router_address="fd00:1::1,192.168.1.1",
        node_prefix_v6=72,
    )
    assert [str(n) for n in s.cluster_cidrs] == ["10.244.0.0/16", "fd00:10:244::/56"]
    assert [str(n) for n in s.service_cidrs] == ["10.96.0.0/12", "fd00:10:96::/112"]
    assert (str(s.cluster_cidr), str(s.service_cidr), str(s.router_address)) == (
        "10.244.0.0/16",
        "10.96.0.0/12",
        "192.168.1.1",
    )
    assert (s.prefix_for(4), s.prefix_for(6), str(s.router_for(6))) == (24, 72, "fd00:1::1")


def test_an_ipv6_only_cluster(tmp_path: Path) -> None:
    s = Settings(state_dir=tmp_path, cluster_cidr="fd00:10:244::/56", router_address="fd00:1::1")
    assert [str(n) for n in s.cluster_cidrs] == ["fd00:10:244::/56"]
    assert s.router_address is None and str(s.router_for(6)) == "fd00:1::1" and s.router_for(4) is None


DUAL_REFUSED: dict[str, dict[str, Any]] = {
    "two IPv4 pools": {"cluster_cidr": "10.244.0.0/16,10.245.0.0/16"},
    "two IPv6 service CIDRs": {"service_cidr": "fd00:10:96::/112,fd00:10:97::/112"},
    "two IPv4 routers": {"router_address": "192.168.1.1,192.168.1.2"},
    "no pool at all": {"cluster_cidr": ""},
    "a zone": {"cluster_cidr": "fd00:10:244::%eth0/56"},
    "IPv6 prefix past /126": {"cluster_cidr": "fd00:10:244::/120", "node_prefix_v6": 127},
    "IPv6 prefix shorter than the pool": {"cluster_cidr": "fd00:10:244::/56", "node_prefix_v6": 48},
    "more than 65,536 IPv6 node subnets": {"cluster_cidr": "fd00:10:244::/56", "node_prefix_v6": 73},
    "router inside the IPv6 pool": {"cluster_cidr": "fd00:10:244::/56", "router_address": "fd00:10:244::1"},
}


@pytest.mark.parametrize("values", DUAL_REFUSED.values(), ids=DUAL_REFUSED.keys())
def test_dual_stack_settings_refused(values: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        Settings(state_dir=tmp_path, **values)


def test_the_longest_ipv6_node_prefix_a_pool_allows(tmp_path: Path) -> None:
    s = Settings(state_dir=tmp_path, cluster_cidr="fd00:10:244::/56", node_prefix_v6=72)
    assert s.prefix_for(6) == 72


def test_a_router_goes_down_after_10_s_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(state_dir=tmp_path).router_down_seconds == 10.0
    monkeypatch.setenv("HUBNET_ROUTER_DOWN_SECONDS", "2.5")
    assert Settings(state_dir=tmp_path).router_down_seconds == 2.5
