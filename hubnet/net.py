"""Pure subnet math shared by the controller and the node side, for both address families (stdlib only).

Dual-stack conventions (docs/dual-stack.md): a node has at most one subnet per family; lists of subnets and
addresses are ordered IPv4 first ("primary" = the first, as Kubernetes' `podCIDR` is `podCIDRs[0]`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import TypeVar

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address
T = TypeVar("T", IPv4Network, IPv6Network, IPv4Address, IPv6Address, str)


def gateway(subnet: Network) -> Address:
    """The node's bridge address: the first host of its subnet (10.244.1.1 for 10.244.1.0/24, fd00::1 for fd00::/64)."""
    return subnet.network_address + 1


def pod_range(subnet: Network) -> tuple[Address, Address]:
    """First and last address a pod may get: after the gateway, before the last address of the subnet (the IPv4
    broadcast; for IPv6 the same rule, as host-local's default range end)."""
    return subnet.network_address + 2, subnet.broadcast_address - 1


def parse_network(text: str, *, family: int | None = None) -> Network:
    """Parse a strict CIDR ('10.244.0.0/16', 'fd00:10:244::/56'); `family` 4 or 6 restricts it. Raises ValueError
    naming the text when it is not one."""
    kind = {4: "an IPv4 ", 6: "an IPv6 "}.get(family or 0, "a ")
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueError(f"not {kind}network in CIDR form: {text!r} ({exc})") from None
    if family is not None and net.version != family:
        raise ValueError(f"not {kind}network: {text!r}")
    if "%" in text:  # ipaddress accepts a zone ("fd00::%eth0/64"): meaningless for a pod network
        raise ValueError(f"not {kind}network: {text!r} carries a zone (%)")
    return net


def parse_ip(text: str, *, family: int | None = None) -> Address:
    """Parse one address of either family (or of `family`); raises ValueError."""
    address = ipaddress.ip_address(text)
    if "%" in text:  # a zone ("fd00::1%eth0") names a link of one host, never a routable address
        raise ValueError(f"{text!r} carries a zone (%)")
    if family is not None and address.version != family:
        raise ValueError(f"{text!r} is not an IPv{family} address")
    return address


def family_of(text: str) -> int:
    """4 or 6 for an address or network in text form, by its shape (no validation): IPv6 text always has ':'."""
    return 6 if ":" in text else 4


def by_family(items: Iterable[T]) -> list[T]:
    """The items ordered IPv4 first (stable): the order of every subnets/addresses list on the wire."""
    return sorted(items, key=lambda item: family_of(str(item)))


def contains(outer: Network, inner: Network) -> bool:
    """True when `inner` lies wholly inside `outer` (False across families)."""
    return outer.version == inner.version and inner.subnet_of(outer)  # type: ignore[arg-type]
