"""nftables for the node: egress masquerade in hubnet's own tables, applied atomically with one `nft -f -`.

Only traffic from the pod subnet to destinations outside every cluster CIDR of its family is masqueraded; pod to
pod (same node or across nodes through the router) keeps its source address. One table per family the node has a
subnet of, both named `hubnet`: `ip hubnet` (IPv4, unchanged since before dual-stack) and `ip6 hubnet` (IPv6).
Both are replaced as a whole in one transaction — a family the node no longer has loses its table in the same
step — so re-applying is idempotent and never touches anyone else's tables.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from hubnet.linux.errors import LinuxError
from hubnet.net import Network

TABLE = "hubnet"
FAMILIES = {4: ("ip", "ip"), 6: ("ip6", "ip6")}  # family -> (nft table family, nft address expression)


def masquerade_ruleset(
    pod_subnets: Network | Sequence[Network], cluster_cidrs: Sequence[Network], table: str = TABLE
) -> str:
    """The whole `ip <table>` / `ip6 <table>` pair as one nft script (pure; tested without a kernel)."""
    subnets = [pod_subnets] if isinstance(pod_subnets, Network) else list(pod_subnets)
    script = "".join(f"table {kind} {table} {{}}\ndelete table {kind} {table}\n" for kind, _ in FAMILIES.values())
    for subnet in subnets:
        kind, expr = FAMILIES[subnet.version]
        cluster = ", ".join(str(c) for c in cluster_cidrs if c.version == subnet.version) or str(subnet)
        script += (
            f"table {kind} {table} {{\n"
            f"  chain postrouting {{\n"
            f"    type nat hook postrouting priority srcnat; policy accept;\n"
            f"    {expr} saddr {subnet} {expr} daddr != {{ {cluster} }} masquerade\n"
            f"  }}\n"
            f"}}\n"
        )
    return script


def apply(script: str) -> None:
    """Run one nft transaction (all or nothing)."""
    try:
        proc = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LinuxError(f"failed to run nft: {exc}") from None
    if proc.returncode != 0:
        raise LinuxError(f"nft rejected the ruleset: {proc.stderr.strip()}")


def delete_table(table: str = TABLE) -> None:
    """Remove our tables (both families); a missing one is success."""
    apply("".join(f"table {kind} {table} {{}}\ndelete table {kind} {table}\n" for kind, _ in FAMILIES.values()))


def list_table(table: str = TABLE, family: int = 4) -> str:
    kind = FAMILIES[family][0]
    proc = subprocess.run(["nft", "list", "table", kind, table], capture_output=True, text=True, timeout=30)
    return proc.stdout if proc.returncode == 0 else ""
