"""The agent's configuration and the files it keeps in its state directory."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

NETWORK_NAME = "hubnet"
CONFLIST = "10-hubnet.conflist"
PLUGIN = "hubnet"


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
