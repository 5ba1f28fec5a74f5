"""The agent's configuration (from `hubnet node join`'s flags, saved for `leave`) and the files it keeps in its
state directory."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from hubnet.net import parse_network

NETWORK_NAME = "hubnet"
CONFLIST = "10-hubnet.conflist"
PLUGIN = "hubnet"
SAVED = "agent.json"  # the join flags, for `leave`


@dataclass(frozen=True)
class AgentConfig:
    """Flags of `hubnet node join` (see docs/node.md)."""

    name: str
    address: IPv4Address
    controller: str = ""
    token: str = ""
    # CA bundle the controller's certificate must chain to (https:// only); None: the system trust store.
    ca_file: str | None = None
    router: IPv4Address | None = None
    bridge: str = "v-net-0"
    state_dir: str = "/var/lib/hubnet"
    cni_conf_dir: str = "/etc/cni/net.d"
    cni_bin_dir: str = "/opt/cni/bin"
    # Test seam: a fixed subnet makes the agent skip the controller and be ready at once (CNI tests, bench).
    fixed_subnet: IPv4Network | None = None
    fixed_cluster_cidrs: tuple[IPv4Network, ...] = field(default_factory=tuple)

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

    def ipam_dir(self, subnet: IPv4Network) -> str:
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
) -> AgentConfig:
    """The configuration of `hubnet node join`'s flags ("" for a flag not given); ValueError names a bad value."""
    return AgentConfig(
        name=name or "node",
        address=IPv4Address(address or "0.0.0.0"),
        controller=controller,
        token=token,
        ca_file=ca_file or None,
        router=IPv4Address(router) if router else None,
        bridge=bridge,
        state_dir=state_dir,
        cni_conf_dir=cni_conf_dir,
        cni_bin_dir=cni_bin_dir,
        fixed_subnet=parse_network(fixed_subnet) if fixed_subnet else None,
        fixed_cluster_cidrs=tuple(parse_network(c) for c in cluster_cidrs),
    )


def save(config: AgentConfig) -> str:
    """Keep what `leave` needs in `<state-dir>/agent.json` (the CA file as an absolute path; never the token)."""
    data = {
        "controller": config.controller,
        "ca_file": os.path.abspath(config.ca_file) if config.ca_file else "",
        "name": config.name,
        "router": str(config.router) if config.router else "",
        "bridge": config.bridge,
        "cni_conf_dir": config.cni_conf_dir,
        "cni_bin_dir": config.cni_bin_dir,
        "address": str(config.address),
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
    return AgentConfig(
        name=saved.get("name", "node"),
        address=IPv4Address(saved.get("address", "0.0.0.0")),
        controller=saved.get("controller", ""),
        ca_file=ca_file or saved.get("ca_file") or None,
        router=IPv4Address(saved["router"]) if saved.get("router") else None,
        bridge=saved.get("bridge", "v-net-0"),
        state_dir=state_dir,
        cni_conf_dir=saved.get("cni_conf_dir", AgentConfig.cni_conf_dir),
        cni_bin_dir=saved.get("cni_bin_dir", AgentConfig.cni_bin_dir),
    )
