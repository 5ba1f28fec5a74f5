"""Input validation that needs no database: node names, underlay addresses, node secrets (pure)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network

from hubnet.server.domain.errors import InvalidInput, UnderlayInPool

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SECRET = re.compile(r"[A-Za-z0-9._~+/=-]+")
SECRET_MIN, SECRET_MAX = 43, 512
# Ranges that can never carry pods or nodes, in the order they are named (0.0.0.0/8: "this host on this network",
# never a destination, RFC 1122; 240.0.0.0/4 reserved, 255.255.255.255 included).
SPECIAL_RANGES = (
    ("this-network", IPv4Network("0.0.0.0/8")),
    ("loopback", IPv4Network("127.0.0.0/8")),
    ("link-local", IPv4Network("169.254.0.0/16")),
    ("multicast", IPv4Network("224.0.0.0/4")),
    ("reserved", IPv4Network("240.0.0.0/4")),
)


def check_name(name: str) -> str:
    """A DNS-1123 label: lower-case alphanumerics and '-', 1..63 characters, alphanumeric at both ends."""
    if len(name) > 63 or not _LABEL.fullmatch(name):
        raise InvalidInput(f"name {name!r} is not a DNS-1123 label (a-z, 0-9, '-', at most 63)", field="name")
    return name


def check_secret(secret: str) -> str:
    """At least 32 random bytes in a token form (e.g. `secrets.token_urlsafe(32)`), usable as a bearer token."""
    if not SECRET_MIN <= len(secret) <= SECRET_MAX or not _SECRET.fullmatch(secret):
        raise InvalidInput(
            f"secret must be {SECRET_MIN}..{SECRET_MAX} token characters (>= 32 random bytes, base64url)",
            field="secret",
        )
    return secret


def parse_address(text: str, *, field: str = "address") -> IPv4Address:
    """A strict dotted-quad IPv4 address; raises InvalidInput naming `field`."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidInput(f"{field} {text!r} is not an IPv4 address", field=field) from None
    if not isinstance(address, IPv4Address):
        raise InvalidInput(f"{field} {text!r} is not an IPv4 address", field=field)
    return address


def check_address(
    text: str,
    *,
    pools: Iterable[IPv4Network],
    service_cidr: IPv4Network | None,
    router: IPv4Address | None,
) -> IPv4Address:
    """A node's underlay address: unicast, routable, outside every pool and the service CIDR, not the router."""
    address = parse_address(text)
    kind = _special_kind(address)
    if kind:
        raise InvalidInput(f"address {text} is a {kind} address, not a node's unicast address", field="address")
    for pool in pools:
        if address in pool:
            raise InvalidInput(f"address {text} lies inside the pod pool {pool}", field="address")
    if service_cidr is not None and address in service_cidr:
        raise InvalidInput(f"address {text} lies inside the service CIDR {service_cidr}", field="address")
    if router is not None and address == router:
        raise InvalidInput(f"address {text} is the router's address", field="address")
    return address


def check_pool_range(network: IPv4Network, *, field: str = "cidr") -> IPv4Network:
    """A pod pool must not touch a range that can never carry unicast traffic between hosts (loopback, multicast,
    link-local, 0.0.0.0/8, 240.0.0.0/4): nodes would be handed subnets and gateways that cannot work."""
    for kind, special in SPECIAL_RANGES:
        if network.overlaps(special):
            raise InvalidInput(
                f"{field} {network} overlaps the {kind} range {special}: pods there cannot be reached", field=field
            )
    return network


def check_pool_underlay(
    network: IPv4Network, *, router: IPv4Address | None, node_addresses: Iterable[str], field: str = "cidr"
) -> None:
    """A pod pool must not hold the underlay: the router's address, or a registered node's address (a node inside
    its own pool could no longer be reached through the route for its subnet)."""
    if router is not None and router in network:
        raise InvalidInput(f"{field} {network} holds the router's address {router}", field=field)
    inside = sorted(a for a in node_addresses if _inside(a, network))
    if inside:
        shown = ", ".join(inside[:5]) + (f" and {len(inside) - 5} more" if len(inside) > 5 else "")
        raise UnderlayInPool(f"{field} {network} holds the address of registered node(s): {shown}", field=field)


def _inside(address: str, network: IPv4Network) -> bool:
    try:
        return IPv4Address(address) in network
    except ValueError:
        return False


def _special_kind(address: IPv4Address) -> str | None:
    if address.is_unspecified:
        return "unspecified"
    if address == IPv4Address("255.255.255.255"):
        return "broadcast"
    return next((kind for kind, special in SPECIAL_RANGES if address in special), None)
