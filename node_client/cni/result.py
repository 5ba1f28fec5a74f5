"""ADD results shaped as each CNI spec version defines them (pure, stdlib only)."""

from __future__ import annotations

from typing import Any

from node_client.cni.skel import version_key


def add_result(
    version: str,
    *,
    bridge: tuple[str, str],
    host: tuple[str, str],
    pod: tuple[str, str, str],
    address: str,
    gateway: str,
) -> dict[str, Any]:
    """The result of a successful ADD: interfaces bridge, host veth, pod end (in `sandbox`); one IP; default route.

    0.3.x/0.4.0 carry `"version": "4"` on each IP; 1.0.0 dropped it. `interface` indexes `interfaces`.
    """
    ip: dict[str, Any] = {"address": address, "gateway": gateway, "interface": 2}
    if version_key(version) < (1, 0, 0):
        ip = {"version": "4", **ip}
    return {
        "cniVersion": version,
        "interfaces": [
            {"name": bridge[0], "mac": bridge[1]},
            {"name": host[0], "mac": host[1]},
            {"name": pod[0], "mac": pod[1], "sandbox": pod[2]},
        ],
        "ips": [ip],
        "routes": [{"dst": "0.0.0.0/0", "gw": gateway}],
        "dns": {},
    }


def prev_address(config: dict[str, Any], ifname: str) -> str | None:
    """The pod address recorded in `prevResult` for `ifname` (CIDR form), or None when there is none."""
    prev = config.get("prevResult")
    if not isinstance(prev, dict):
        return None
    interfaces = prev.get("interfaces") or []
    for ip in prev.get("ips") or []:
        idx = ip.get("interface")
        if isinstance(idx, int) and 0 <= idx < len(interfaces) and interfaces[idx].get("name") != ifname:
            continue
        if ip.get("address"):
            return str(ip["address"])
    return None
