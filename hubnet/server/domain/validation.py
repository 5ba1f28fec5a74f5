"""Input validation that needs no database: node names, underlay addresses, node secrets (pure)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import TypeVar

from hubnet.net import Address, Network
from hubnet.server.domain.allocator import MAX_PREFIX, MAX_V6_BITS
from hubnet.server.domain.errors import InvalidInput, UnderlayInPool

N = TypeVar("N", bound=IPv4Network | IPv6Network)
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SECRET = re.compile(r"[A-Za-z0-9._~+/=-]+")
SECRET_MIN, SECRET_MAX = 43, 512
ROUTER_SECRET_MIN, ROUTER_SECRET_MAX = 32, 128
# Ranges that can never carry pods or nodes, in the order they are named (0.0.0.0/8: "this host on this network",
# never a destination, RFC 1122; 240.0.0.0/4 reserved, 255.255.255.255 included). IPv6: loopback and unspecified
# are checked by the address itself; IPv4-mapped addresses are IPv4 in disguise; 2001:db8::/32 is documentation.
SPECIAL_RANGES: tuple[tuple[str, Network], ...] = (
    ("this-network", IPv4Network("0.0.0.0/8")),
    ("loopback", IPv4Network("127.0.0.0/8")),
    ("link-local", IPv4Network("169.254.0.0/16")),
    ("multicast", IPv4Network("224.0.0.0/4")),
    ("reserved", IPv4Network("240.0.0.0/4")),
    ("unspecified", IPv6Network("::/128")),
    ("loopback", IPv6Network("::1/128")),
    ("IPv4-mapped", IPv6Network("::ffff:0:0/96")),
    ("link-local", IPv6Network("fe80::/10")),
    ("multicast", IPv6Network("ff00::/8")),
    ("documentation", IPv6Network("2001:db8::/32")),
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


def check_router_secret(secret: str) -> str:
    """A router agent's own secret: 32..128 token characters (usable as a bearer token)."""
    if not ROUTER_SECRET_MIN <= len(secret) <= ROUTER_SECRET_MAX or not _SECRET.fullmatch(secret):
        raise InvalidInput(
            f"secret must be {ROUTER_SECRET_MIN}..{ROUTER_SECRET_MAX} token characters (A-Z a-z 0-9 . _ ~ + / = -)",
            field="secret",
        )
    return secret


def parse_address(text: str, *, field: str = "address", family: int | None = None) -> Address:
    """A strict IPv4 or IPv6 address (or only `family`); raises InvalidInput naming `field`."""
    kind = f"IPv{family}" if family else "IPv4 or IPv6"
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidInput(f"{field} {text!r} is not an {kind} address", field=field) from None
    if family is not None and address.version != family:
        raise InvalidInput(f"{field} {text!r} is not an {kind} address", field=field)
    if "%" in text:  # ipaddress accepts a zone ("fd00::1%eth0"): it names one host's link, no other host routes it
        raise InvalidInput(f"{field} {text!r} carries a zone (%): not a routable address", field=field)
    return address


def check_address(
    text: str,
    *,
    pools: Iterable[Network],
    service_cidr: Network | Iterable[Network] | None,
    router: Address | Iterable[Address] | None,
    field: str = "address",
) -> Address:
    """A node's underlay address: unicast, routable, outside every pool and service CIDR, not a router address."""
    address = parse_address(text, field=field)
    kind = _special_kind(address)
    if kind:
        raise InvalidInput(f"{field} {text} is a {kind} address, not a node's unicast address", field=field)
    for pool in pools:
        if pool.version == address.version and address in pool:
            raise InvalidInput(f"{field} {text} lies inside the pod pool {pool}", field=field)
    for service in _networks(service_cidr):
        if service.version == address.version and address in service:
            raise InvalidInput(f"{field} {text} lies inside the service CIDR {service}", field=field)
    if any(address == r for r in _addresses(router)):
        raise InvalidInput(f"{field} {text} is the router's address", field=field)
    return address


def check_addresses(
    address: str,
    addresses: Sequence[str] | None,
    *,
    pools: Sequence[Network],
    service_cidrs: Iterable[Network],
    routers: Iterable[Address],
) -> dict[int, Address]:
    """A node's underlay addresses by family (docs/dual-stack.md): `address` plus the optional `addresses` list, at
    most one per family, `address` among them, each checked like `check_address`, and at least one of a family the
    cluster has a pool of. Raises InvalidInput naming `address` (what is wrong with it, or it alone was sent) or
    `addresses`."""
    services, router_list = list(service_cidrs), list(routers)
    primary = check_address(address, pools=pools, service_cidr=services, router=router_list)
    found: dict[int, Address] = {primary.version: primary}
    if addresses is not None:
        listed = [
            check_address(text, pools=pools, service_cidr=services, router=router_list, field="addresses")
            for text in addresses
        ]
        for family in (4, 6):
            same = [str(a) for a in listed if a.version == family]
            if len(same) > 1:
                raise InvalidInput(
                    f"addresses holds {len(same)} IPv{family} addresses ({', '.join(same)}): at most one per family",
                    field="addresses",
                )
        if primary not in listed:
            raise InvalidInput(f"address {address} is not one of addresses {list(addresses)}", field="addresses")
        found = {a.version: a for a in listed}
    families = {p.version for p in pools}
    if families and not families & found.keys():
        # A subnet is only routable via the node's address of its family: without one, nothing can be allocated.
        # (Only a single-family cluster gets here: the node has an address of some family.) The field named is the
        # one the client sent: `address` alone (a client older than dual-stack), or `addresses`.
        wanted = " or ".join(f"IPv{f}" for f in sorted(families))
        raise InvalidInput(
            f"the cluster has {wanted} pools only: the node needs an {wanted} underlay address to get a subnet",
            field="address" if addresses is None else "addresses",
        )
    return dict(sorted(found.items()))


def _networks(value: Network | Iterable[Network] | None) -> list[Network]:
    if value is None:
        return []
    return [value] if isinstance(value, IPv4Network | IPv6Network) else list(value)


def _addresses(value: Address | Iterable[Address] | None) -> list[Address]:
    if value is None:
        return []
    return [value] if isinstance(value, IPv4Address | IPv6Address) else list(value)


def check_pool_range(network: N, *, field: str = "cidr") -> N:
    """A pod pool must not touch a range that can never carry unicast traffic between hosts (loopback, multicast,
    link-local, 0.0.0.0/8, 240.0.0.0/4): nodes would be handed subnets and gateways that cannot work."""
    for kind, special in SPECIAL_RANGES:
        if special.version == network.version and network.overlaps(special):
            raise InvalidInput(
                f"{field} {network} overlaps the {kind} range {special}: pods there cannot be reached", field=field
            )
    return network


def check_node_prefix(network: Network, prefix: int, *, field: str = "node_prefix") -> int:
    """The node prefix of a pool: inside the pool, at most the family's longest (one pod address beside the
    gateway), and for IPv6 at most MAX_V6_BITS longer than the pool (Kubernetes' node IPAM limit). Raises
    InvalidInput naming `field`."""
    longest = MAX_PREFIX[network.version]
    if not network.prefixlen <= prefix <= longest:
        raise InvalidInput(f"{field} /{prefix} must lie in /{network.prefixlen}../{longest} for {network}", field=field)
    if network.version == 6 and prefix - network.prefixlen > MAX_V6_BITS:
        raise InvalidInput(
            f"{field} /{prefix} cuts {network} into more than {2**MAX_V6_BITS:,} node subnets (at most "
            f"/{network.prefixlen + MAX_V6_BITS}, as Kubernetes' node IPAM)",
            field=field,
        )
    return prefix


def check_pool_underlay(
    network: Network, *, router: Address | Iterable[Address] | None, node_addresses: Iterable[str], field: str = "cidr"
) -> None:
    """A pod pool must not hold the underlay: the router's address, or a registered node's address (a node inside
    its own pool could no longer be reached through the route for its subnet)."""
    for address in _addresses(router):
        if address.version == network.version and address in network:
            raise InvalidInput(f"{field} {network} holds the router's address {address}", field=field)
    inside = sorted(a for a in node_addresses if _inside(a, network))
    if inside:
        shown = ", ".join(inside[:5]) + (f" and {len(inside) - 5} more" if len(inside) > 5 else "")
        raise UnderlayInPool(f"{field} {network} holds the address of registered node(s): {shown}", field=field)


def _inside(address: str, network: Network) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return parsed.version == network.version and parsed in network


def _special_kind(address: Address) -> str | None:
    if address.is_unspecified:
        return "unspecified"
    if address == IPv4Address("255.255.255.255"):
        return "broadcast"
    return next(
        (kind for kind, special in SPECIAL_RANGES if special.version == address.version and address in special),
        None,
    )
