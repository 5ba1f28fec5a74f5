"""docker-compose.yml + Dockerfile, statically (test_compose_engine.py runs them on a real Docker engine).

Every `hubnet …` the services run must exist in the CLI with every option it passes; the addresses must be the
lab's plan (the same constants `hubnet lab up` uses); the image must install the project.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from hubnet.cli import build
from hubnet.lab import plan

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def hubnet_invocations(command: list[str] | str) -> list[list[str]]:
    """Every `hubnet …` command line in a service's command (direct, or the lines of an `sh -c` script)."""
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if argv[:1] == ["hubnet"]:
        return [argv]
    assert argv[0] == "sh", f"unexpected command {argv!r}"
    script = argv[-1].replace("$$", "$")
    found = []
    for line in script.splitlines():
        words = shlex.split(line.rstrip("&").split(";")[0].removeprefix("until "))
        if words[:1] == ["hubnet"]:
            found.append(words)
    return found


def resolve(argv: list[str]) -> tuple[Any, list[str]]:
    """Walk the real CLI's command tree along `argv`; (the leaf command, the remaining arguments).

    Duck-typed: typer ships its own copy of click, so `isinstance(x, click.Group)` would not hold.
    """
    command: Any = typer.main.get_command(build())
    rest = argv[1:]
    while hasattr(command, "get_command") and rest and not rest[0].startswith("-"):
        sub = command.get_command(command.context_class(command), rest[0])
        assert sub is not None, f"`{' '.join(argv[: len(argv) - len(rest) + 1])}` is not a hubnet command"
        command, rest = sub, rest[1:]
    return command, rest


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_services_are_the_router_and_three_nodes(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"router", "node-1", "node-2", "node-3"}


def test_every_service_command_exists_in_the_cli(compose: dict[str, Any]) -> None:
    checked = 0
    for name, service in compose["services"].items():
        invocations = hubnet_invocations(service["command"])
        assert invocations, f"service {name} runs no hubnet command"
        for argv in invocations:
            command, rest = resolve(argv)
            known = {opt for param in command.params for opt in param.opts}
            passed = {word for word in rest if word.startswith("--")}
            assert passed <= known, f"{name}: {' '.join(argv)} passes unknown options {sorted(passed - known)}"
            checked += 1
    assert checked == 1 + 3 * 2  # server; join + pod add on each node


def test_addresses_match_the_lab_plan(compose: dict[str, Any]) -> None:
    """The same dual-stack plan as `hubnet lab up`: underlays, router, nodes, pools of both families."""
    underlay = compose["networks"]["underlay"]
    assert underlay["enable_ipv6"] is True
    subnets = [ip_network(c["subnet"]) for c in underlay["ipam"]["config"]]
    assert subnets == [plan.UNDERLAY, plan.UNDERLAY6]
    router = compose["services"]["router"]
    assert IPv4Address(router["networks"]["underlay"]["ipv4_address"]) == plan.ROUTER_ADDRESS
    assert IPv6Address(router["networks"]["underlay"]["ipv6_address"]) == plan.ROUTER_ADDRESS6
    env = router["environment"]
    assert env["HUBNET_LISTEN"] == f"{plan.ROUTER_ADDRESS}:{plan.CONTROLLER_PORT}"
    assert env["HUBNET_ROUTE_BACKEND"] == "kernel"
    assert [ip_network(c) for c in env["HUBNET_CLUSTER_CIDR"].split(",")] == [plan.CLUSTER_CIDR, plan.CLUSTER_CIDR6]
    assert [ip_address(a) for a in env["HUBNET_ROUTER_ADDRESS"].split(",")] == [
        plan.ROUTER_ADDRESS,
        plan.ROUTER_ADDRESS6,
    ]
    assert int(env["HUBNET_NODE_PREFIX_V6"]) == plan.NODE_PREFIX_V6
    for index in (1, 2, 3):
        service = compose["services"][f"node-{index}"]
        address = IPv4Address(service["networks"]["underlay"]["ipv4_address"])
        address6 = IPv6Address(service["networks"]["underlay"]["ipv6_address"])
        assert (address, address6) == (plan.node_address(index), plan.node_address6(index))
        assert service["environment"]["NODE_ADDRESS"] == f"{address},{address6}"
        join = hubnet_invocations(service["command"])[0]
        assert option(join, "--controller") == f"http://{plan.ROUTER_ADDRESS}:{plan.CONTROLLER_PORT}"
        assert option(join, "--router") == f"{plan.ROUTER_ADDRESS},{plan.ROUTER_ADDRESS6}"


def test_only_the_privileges_needed(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert not service.get("privileged"), name
        assert set(service["cap_add"]) <= {"NET_ADMIN", "SYS_ADMIN"}, name
        assert service["sysctls"]["net.ipv4.ip_forward"] == "1", name
        assert service["sysctls"]["net.ipv6.conf.all.forwarding"] == "1", name
    assert compose["services"]["router"]["cap_add"] == ["NET_ADMIN"]


def test_the_build_uses_the_host_network(compose: dict[str, Any]) -> None:
    """An engine run with --iptables=false (test_compose_engine.py) gives a build on its default network no way out."""
    for name, service in compose["services"].items():
        assert service["build"] == {"context": ".", "network": "host"}, name


def test_dockerfile_installs_the_project() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^RUN .*\bpip install\b[^\n]*\s\.(\s|$)", dockerfile, re.M), "the image must `pip install .`"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    copied = " ".join(line for line in dockerfile.splitlines() if line.startswith("COPY"))
    for needed in [*packages, "pyproject.toml", project["project"]["readme"]]:
        assert re.search(rf"\b{re.escape(needed)}\b", copied), f"Dockerfile does not COPY {needed}"
