"""nftables for the node: egress masquerade in hubnet's own table, applied atomically with one `nft -f -`.

Only traffic from the pod subnet to destinations outside every cluster CIDR is masqueraded; pod to pod (same
node or across nodes through the router) keeps its source address. The table is replaced as a whole, so
re-applying is idempotent and never touches anyone else's tables.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from ipaddress import IPv4Network

from hubnet.linux.errors import LinuxError

TABLE = "hubnet"


def masquerade_ruleset(pod_subnet: IPv4Network, cluster_cidrs: Sequence[IPv4Network], table: str = TABLE) -> str:
    """The whole `ip <table>` table as an nft script (pure; tested without a kernel)."""
    cluster = ", ".join(str(c) for c in cluster_cidrs) or str(pod_subnet)
    return (
        f"table ip {table} {{}}\n"
        f"delete table ip {table}\n"
        f"table ip {table} {{\n"
        f"  chain postrouting {{\n"
        f"    type nat hook postrouting priority srcnat; policy accept;\n"
        f"    ip saddr {pod_subnet} ip daddr != {{ {cluster} }} masquerade\n"
        f"  }}\n"
        f"}}\n"
    )


def apply(script: str) -> None:
    """Run one nft transaction (all or nothing)."""
    try:
        proc = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LinuxError(f"failed to run nft: {exc}") from None
    if proc.returncode != 0:
        raise LinuxError(f"nft rejected the ruleset: {proc.stderr.strip()}")


def delete_table(table: str = TABLE) -> None:
    """Remove our table; a missing one is success."""
    apply(f"table ip {table} {{}}\ndelete table ip {table}\n")


def list_table(table: str = TABLE) -> str:
    proc = subprocess.run(["nft", "list", "table", "ip", table], capture_output=True, text=True, timeout=30)
    return proc.stdout if proc.returncode == 0 else ""
