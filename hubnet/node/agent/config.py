"""The agent's configuration (from `hubnet node join`'s flags, saved for `leave`) and the files it keeps in its
state directory."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any

from hubnet.net import Address, Network, parse_ip, parse_network

NETWORK_NAME = "hubnet"
CONFLIST = "10-hubnet.conflist"
PLUGIN = "hubnet"
SAVED = "agent.json"  # the join flags, for `leave`


@dataclass(frozen=True)
class AgentConfig:
    """Flags of `hubnet node join` (see docs/node.md)."""

    name: str
    address: Address  # the primary underlay address (IPv4 when the node has one): the registration's `address`
    # Every underlay address, at most one per family, IPv4 first (`--address 192.168.1.11,fd00:1::11`); empty
    # means just `address`. The node gets a subnet of each family it has an address of.
    addresses: tuple[Address, ...] = ()
    controller: str = ""  # the first controller URL (`--controller`)
    # Every controller URL in the order given (replicas; the client fails over between them); empty means just
    # `controller`.
    controllers: tuple[str, ...] = ()
    token: str = ""
    # CA bundle the controller's certificate must chain to (https:// only); None: the system trust store.
    ca_file: str | None = None
    # The router's underlay address per family (`--router`), overriding the controller's answer for its family.
    routers: tuple[Address, ...] = ()
    bridge: str = "v-net-0"
    state_dir: str = "/var/lib/hubnet"
    cni_conf_dir: str = "/etc/cni/net.d"
    cni_bin_dir: str = "/opt/cni/bin"
    # `--cni-chain`: the plugins chained after `hubnet` in the conflist, when they are in the CNI bin dir.
    cni_chain: tuple[str, ...] = ("portmap", "bandwidth")
    # Test seam: fixed subnets (one per family) make the agent skip the controller and be ready at once (CNI
    # tests, bench).
    fixed_subnets: tuple[Network, ...] = ()
    fixed_cluster_cidrs: tuple[Network, ...] = field(default_factory=tuple)

    @property
    def controller_urls(self) -> tuple[str, ...]:
        """Every controller URL, in the order given (none for the fixed-subnet test seam)."""
        return self.controllers or ((self.controller,) if self.controller else ())

    @property
    def underlay(self) -> tuple[Address, ...]:
        """Every underlay address, IPv4 first."""
        return self.addresses or (self.address,)

    @property
    def socket_path(self) -> str:
        return os.path.join(self.state_dir, "agent.sock")

    @property
    def secret_path(self) -> str:
        return os.path.join(self.state_dir, "secret")

    @property
    def saved_path(self) -> str:
        return os.path.join(self.state_dir, SAVED)

    @property
    def record_path(self) -> str:
        return os.path.join(self.state_dir, "node.json")

    def ipam_dir(self, subnet: Network) -> str:
        """The pod IPAM store of one subnet (one per family: `ipam/10.244.1.0_24`, `ipam/fd00:10:244:1::_64`)."""
        return os.path.join(self.state_dir, "ipam", str(subnet).replace("/", "_"))

    @property
    def conflist_path(self) -> str:
        return os.path.join(self.cni_conf_dir, CONFLIST)

    @property
    def plugin_path(self) -> str:
        return os.path.join(self.cni_bin_dir, PLUGIN)

    @property
    def fallback_path(self) -> str:
        """The Python shim the compiled plugin runs when it cannot forward: next to it, where it looks."""
        return f"{self.plugin_path}-shim"


def join_config(
    *,
    controller: str,
    token: str,
    name: str,
    address: str,
    router: str,
    bridge: str,
    state_dir: str,
    cni_conf_dir: str,
    cni_bin_dir: str,
    ca_file: str,
    fixed_subnet: str = "",
    cluster_cidrs: Iterable[str] = (),
    cni_chain: str = "portmap,bandwidth",
) -> AgentConfig:
    """The configuration of `hubnet node join`'s flags ("" for a flag not given); ValueError names a bad value.

    `controller` takes a comma-separated list of URLs (the controllers, in order); `address`, `router`,
    `fixed_subnet` and each `cluster_cidrs` entry a comma-separated list, at most one per family
    (`192.168.1.11,fd00:1::11`)."""
    addresses = _addresses(address, "--address") or (IPv4Address("0.0.0.0"),)
    urls = controller_urls(controller)
    return AgentConfig(
        name=name or "node",
        address=addresses[0],
        addresses=addresses if len(addresses) > 1 else (),
        controller=urls[0] if urls else "",
        controllers=urls if len(urls) > 1 else (),
        token=token,
        ca_file=ca_file or None,
        routers=_addresses(router, "--router"),
        bridge=bridge,
        state_dir=state_dir,
        cni_conf_dir=cni_conf_dir,
        cni_bin_dir=cni_bin_dir,
        cni_chain=parse_chain(cni_chain),
        fixed_subnets=_one_per_family([parse_network(s) for s in _split(fixed_subnet)], "--fixed-subnet"),
        fixed_cluster_cidrs=tuple(
            sorted((parse_network(c) for text in cluster_cidrs for c in _split(text)), key=_family)
        ),
    )


CHAIN_PLUGINS = ("portmap", "bandwidth")


def parse_chain(text: str) -> tuple[str, ...]:
    """`--cni-chain`: `portmap,bandwidth` (any of them, in the order given), or `none` / empty for no chain."""
    names = _split(text)
    if names == ["none"]:
        return ()
    unknown = [n for n in names if n not in CHAIN_PLUGINS]
    if unknown:
        raise ValueError(f"--cni-chain: {', '.join(unknown)} is not one of {', '.join(CHAIN_PLUGINS)} (or none)")
    if len(set(names)) != len(names):
        raise ValueError(f"--cni-chain: {text!r} names a plugin twice")
    return tuple(names)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def controller_urls(text: str, flag: str = "--controller") -> tuple[str, ...]:
    """A comma-separated list of controller base URLs, in order, without duplicates; ValueError for one that is not
    http:// or https://. Shared by `hubnet node join` and `hubnet router join`."""
    urls: list[str] = []
    for url in _split(text):
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"{flag}: {url!r} is not an http:// or https:// URL")
        if url.rstrip("/") not in urls:
            urls.append(url.rstrip("/"))
    return tuple(urls)


def _addresses(text: str, flag: str) -> tuple[Address, ...]:
    """A comma-separated list of addresses, at most one per family, as a tuple IPv4 first."""
    return _one_per_family([parse_ip(a) for a in _split(text)], flag)


def _family(item: Address | Network) -> int:
    return item.version


def _one_per_family(items: list[Any], flag: str) -> tuple[Any, ...]:
    out = sorted(items, key=_family)
    if len({i.version for i in out}) != len(out):
        raise ValueError(f"{flag}: at most one per address family, got {', '.join(str(i) for i in out)}")
    return tuple(out)


def save(config: AgentConfig) -> str:
    """Keep what `leave` needs in `<state-dir>/agent.json` (the CA file as an absolute path; never the token)."""
    data = {
        "controller": config.controller,
        "controllers": list(config.controller_urls),
        "ca_file": os.path.abspath(config.ca_file) if config.ca_file else "",
        "name": config.name,
        "router": ",".join(str(r) for r in config.routers),
        "bridge": config.bridge,
        "cni_conf_dir": config.cni_conf_dir,
        "cni_bin_dir": config.cni_bin_dir,
        "address": ",".join(str(a) for a in config.underlay),
    }
    os.makedirs(config.state_dir, mode=0o700, exist_ok=True)
    with open(config.saved_path, "w") as f:
        json.dump(data, f)
    return config.saved_path


def load_saved(state_dir: str, ca_file: str = "") -> AgentConfig:
    """The configuration `join` saved in `state_dir`; `ca_file` overrides the saved CA file.

    FileNotFoundError when there is none (the node never joined).
    """
    with open(os.path.join(state_dir, SAVED)) as f:
        saved = json.load(f)
    if not isinstance(saved, dict):
        saved = {}
    addresses = _addresses(str(saved.get("address") or "0.0.0.0"), "address")
    listed = saved.get("controllers")
    urls = tuple(str(u) for u in listed) if isinstance(listed, list) else ()  # absent: saved before replicas
    return AgentConfig(
        name=saved.get("name", "node"),
        address=addresses[0],
        addresses=addresses if len(addresses) > 1 else (),
        controller=saved.get("controller", ""),
        controllers=urls if len(urls) > 1 else (),
        ca_file=ca_file or saved.get("ca_file") or None,
        routers=_addresses(str(saved.get("router") or ""), "router"),
        bridge=saved.get("bridge", "v-net-0"),
        state_dir=state_dir,
        cni_conf_dir=saved.get("cni_conf_dir", AgentConfig.cni_conf_dir),
        cni_bin_dir=saved.get("cni_bin_dir", AgentConfig.cni_bin_dir),
    )
