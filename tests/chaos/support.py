"""Chaos-tier helpers: a router namespace, a real controller programming it, and fleets of HTTP "agents".

Node addresses live in 172.16.0.0/16, on-link on the router's `hnt-lan0` (172.16.0.1/16), so the kernel accepts
`subnet via address` routes for them. Everything is created inside `hnt-` namespaces this run made.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any

import httpx

from tests.integration.support import Server, new_secret, sql
from tests.support.netns import netns, sh

PROTO = 44


def env_int(name: str, default: int) -> int:
    """A test size from the environment (so CI can run more rounds than a laptop)."""
    return int(os.environ.get(name, str(default)))


def wait_for(cond: Callable[[], bool], timeout: float, step: float = 0.1, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def address(i: int) -> str:
    """Node i's underlay address: 172.16.1.0 + i (on-link on the router's LAN)."""
    return str(ipaddress.IPv4Address("172.16.1.0") + i)


def gateway(subnet: str) -> str:
    net = IPv4Network(subnet)
    return str(IPv4Interface(f"{net.network_address + 1}/{net.prefixlen}"))


@contextmanager
def router_netns() -> Iterator[str]:
    """A named `hnt-rtr-*` namespace with an on-link LAN for the node addresses (the controller's router)."""
    with netns("rtr") as ns:
        sh("ip", "link", "add", "hnt-lan0", "type", "veth", "peer", "name", "hnt-lan1", ns=ns)
        for link in ("hnt-lan0", "hnt-lan1"):
            sh("ip", "link", "set", link, "up", ns=ns)
        sh("ip", "addr", "add", "172.16.0.1/16", "dev", "hnt-lan0", ns=ns)
        yield ns


def owned_routes(ns: str) -> set[tuple[str, str]]:
    """(prefix, next hop) of every route with our protocol number in the router's main table."""
    out = sh("ip", "-4", "route", "show", "proto", str(PROTO), ns=ns).stdout
    found = set()
    for line in out.splitlines():
        words = line.split()
        if "via" in words:
            found.add((words[0], words[words.index("via") + 1]))
    return found


def ip_route(ns: str, *args: str) -> None:
    sh("ip", "route", *args, ns=ns)


@dataclass
class Fleet:
    """Nodes registered through the real API; `secrets` lets each one heartbeat as itself."""

    server: Server
    secrets: dict[str, str] = field(default_factory=dict)
    subnets: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)

    def register(self, names_addresses: list[tuple[str, str]], workers: int = 8) -> None:
        def one(item: tuple[str, str]) -> tuple[str, httpx.Response]:
            name, addr = item
            secret = self.secrets.setdefault(name, new_secret())
            with self.server.client(self.server.bootstrap) as c:
                return name, c.post("/v1/nodes", json={"name": name, "address": addr, "secret": secret})

        with ThreadPoolExecutor(workers) as pool:
            for name, resp in pool.map(one, names_addresses):
                assert resp.status_code in (200, 201), resp.text
                self.subnets[name] = resp.json()["subnet"]
                self.addresses[name] = resp.json()["address"]

    def heartbeat(self, name: str, bridge: dict[str, Any] | None = None) -> httpx.Response:
        with self.server.client(self.secrets[name]) as c:
            return c.post(f"/v1/nodes/{name}/heartbeat", json={"bridge": bridge} if bridge else None)

    def report_bridges(self, overrides: dict[str, list[str]] | None = None, workers: int = 8) -> None:
        """Every node heartbeats with a bridge carrying its gateway, as a healthy agent would (`overrides`: the
        addresses some nodes report instead)."""
        overrides = overrides or {}

        def one(name: str) -> int:
            addresses = overrides.get(name, [gateway(self.db_subnet(name))])
            return self.heartbeat(name, {"name": "v-net-0", "addresses": addresses}).status_code

        with ThreadPoolExecutor(workers) as pool:
            assert set(pool.map(one, sorted(self.secrets))) == {200}

    def db_subnet(self, name: str) -> str:
        return str(sql(self.server.db_url, "SELECT subnet FROM nodes WHERE name = :n", {"n": name})[0][0])

    def check(self) -> dict[str, Any]:
        with self.server.client(self.server.admin) as c:
            resp = c.get("/v1/check")
        assert resp.status_code == 200, resp.text
        return dict(resp.json())


def hubnet_cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    from tests.integration.support import HUBNET

    env = {**os.environ, "HUBNET_URL": server.url, "HUBNET_TOKEN": server.admin}
    return subprocess.run([HUBNET, *args], env=env, capture_output=True, text=True, timeout=60)


def kernel_server(db_url: str, log_dir: Path, router_ns: str, **env: str) -> Server:
    """A controller with the kernel backend programming `router_ns`, on the database at `db_url`."""
    extra = {
        "HUBNET_ROUTE_BACKEND": "kernel",
        "HUBNET_ROUTER_NETNS": router_ns,
        "HUBNET_RECONCILE_INTERVAL": "1",
        **env,
    }
    return Server(db_url, log_dir, extra_env=extra)
