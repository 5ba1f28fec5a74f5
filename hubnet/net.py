"""Pure IPv4 subnet math shared by the controller and the node side (stdlib only)."""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv4Network


def gateway(subnet: IPv4Network) -> IPv4Address:
    """The node's bridge address: the first host of its subnet (10.244.1.1 for 10.244.1.0/24)."""
    return subnet.network_address + 1


def pod_range(subnet: IPv4Network) -> tuple[IPv4Address, IPv4Address]:
    """First and last address a pod may get: after the gateway, before the broadcast address."""
    return subnet.network_address + 2, subnet.broadcast_address - 1


def parse_network(text: str) -> IPv4Network:
    """Parse a strict IPv4 CIDR ('10.244.0.0/16'); raises ValueError naming the text when it is not one."""
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueError(f"not an IPv4 network in CIDR form: {text!r} ({exc})") from None
    if not isinstance(net, IPv4Network):
        raise ValueError(f"not an IPv4 network: {text!r}")
    return net


def contains(outer: IPv4Network, inner: IPv4Network) -> bool:
    """True when `inner` lies wholly inside `outer`."""
    return inner.subnet_of(outer)
