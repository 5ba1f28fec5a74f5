"""ADD results shaped as each CNI spec version defines them (pure, stdlib only)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from ipaddress import IPv4Network, IPv6Network, ip_interface, ip_network
from typing import Any

from hubnet.node.cnilib.skel import DECODE_FAILURE, CniError, version_key

DEFAULT = {4: IPv4Network("0.0.0.0/0"), 6: IPv6Network("::/0")}


def add_result(
    version: str,
    *,
    bridge: tuple[str, str],
    host: tuple[str, str],
    pod: tuple[str, str, str],
    ips: Sequence[tuple[str, str]],
    default_routes: Collection[int] = (4, 6),
) -> dict[str, Any]:
    """The result of a successful ADD: interfaces bridge, host veth, pod end (in `sandbox`); one IP per family
    (`ips`: (address in CIDR form, gateway), IPv4 first); the default route of each family in `default_routes`
    (the families whose default route ADD installed: not those of a secondary attachment, whose netns had one).

    0.3.x/0.4.0 carry `"version": "4"` / `"6"` on each IP; 1.0.0 dropped it. `interface` indexes `interfaces`.
    """
    old = version_key(version) < (1, 0, 0)
    out_ips: list[dict[str, Any]] = []
    routes: list[dict[str, Any]] = []
    for address, gateway in ips:
        family = 6 if ":" in address else 4
        ip: dict[str, Any] = {"address": address, "gateway": gateway, "interface": 2}
        out_ips.append({"version": str(family), **ip} if old else ip)
        if family in default_routes:
            routes.append({"dst": str(DEFAULT[family]), "gw": gateway})
    return {
        "cniVersion": version,
        "interfaces": [
            {"name": bridge[0], "mac": bridge[1]},
            {"name": host[0], "mac": host[1]},
            {"name": pod[0], "mac": pod[1], "sandbox": pod[2]},
        ],
        "ips": out_ips,
        "routes": routes,
        "dns": {},
    }


def prev_address(config: dict[str, Any], ifname: str) -> str | None:
    """The IPv4 pod address recorded in `prevResult` for `ifname` (CIDR form), or None (see `prev_addresses`)."""
    found = prev_addresses(config, ifname)
    return None if found is None else found.get(4)


def prev_addresses(config: dict[str, Any], ifname: str) -> dict[int, str] | None:
    """The pod address of each family recorded in `prevResult` for `ifname` (CIDR form, by family: the first one
    of a family), or None when there is no prevResult.

    A `prevResult` that is not a result (not an object, interfaces/ips not lists of objects, a bad interface
    index or address) is the runtime's mistake: CniError 6 (decode failure) naming the field, not a crash (999).
    """
    prev = config.get("prevResult")
    if prev is None:
        return None
    if not isinstance(prev, dict):
        raise _bad("prevResult is not a JSON object")
    found: dict[int, str] = {}
    interfaces = _objects(prev, "interfaces")
    for n, ip in enumerate(_objects(prev, "ips")):
        idx = ip.get("interface")
        if idx is not None:
            if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < len(interfaces):
                raise _bad(f"prevResult.ips[{n}].interface {idx!r} is not an index into prevResult.interfaces")
            if interfaces[idx].get("name") != ifname:
                continue
        address = ip.get("address")
        try:
            if not isinstance(address, str) or "/" not in address:
                raise ValueError
            parsed = ip_interface(address)
        except ValueError:
            raise _bad(f"prevResult.ips[{n}].address {address!r} is not an IP address in CIDR form") from None
        found.setdefault(parsed.version, address)
    return found


def prev_default_route(config: dict[str, Any]) -> bool | None:
    """Whether `prevResult` claims an IPv4 default route, or None when there is no prevResult."""
    found = prev_default_routes(config)
    return None if found is None else found[4]


def prev_default_routes(config: dict[str, Any]) -> dict[int, bool] | None:
    """Per family, whether `prevResult` claims its default route (routes carry no interface: a result is per
    attachment), or None when there is no prevResult. A route without a valid `dst` is a decode failure (6)."""
    prev = config.get("prevResult")
    if prev is None:
        return None
    if not isinstance(prev, dict):
        raise _bad("prevResult is not a JSON object")
    found = {4: False, 6: False}
    for n, route in enumerate(_objects(prev, "routes")):
        try:
            dst = ip_network(str(route.get("dst")), strict=False)
        except ValueError:
            raise _bad(f"prevResult.routes[{n}].dst {route.get('dst')!r} is not a network") from None
        if dst == DEFAULT[dst.version]:
            found[dst.version] = True
    return found


def _objects(prev: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = prev.get(key)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise _bad(f"prevResult.{key} is not a list of objects")
    return items


def _bad(message: str) -> CniError:
    return CniError(DECODE_FAILURE, f"invalid prevResult: {message}")
