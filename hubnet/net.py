"""Pure subnet math shared by the controller and the node side, for both address families (stdlib only).

Dual-stack conventions (docs/dual-stack.md): a node has at most one subnet per family; lists of subnets and
addresses are ordered IPv4 first ("primary" = the first, as Kubernetes' `podCIDR` is `podCIDRs[0]`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any, TypeVar, cast

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


def split_ipv4(text: str) -> tuple[int, int] | None:
    """(address, prefix length) of IPv4 network text in the canonical form the controller writes ('10.244.1.0/24':
    four decimal octets without leading zeros, a decimal length <= 32; host bits allowed); None for anything else,
    which the caller parses with `ipaddress` as before. Splitting by hand costs a tenth of `ip_network`."""
    address, slash, length = text.partition("/")
    parts = address.split(".")
    if not slash or len(parts) != 4 or not (length.isascii() and length.isdigit() and len(length) <= 2):
        return None
    value = 0
    for part in parts:
        if not (part.isascii() and part.isdigit() and len(part) <= 3) or (part[0] == "0" and part != "0"):
            return None
        octet = int(part)
        if octet > 255:
            return None
        value = (value << 8) | octet
    plen = int(length)
    return (value, plen) if plen <= 32 else None


def parse_network(text: str, *, family: int | None = None) -> Network:
    """Parse a strict CIDR ('10.244.0.0/16', 'fd00:10:244::/56'); `family` 4 or 6 restricts it. Raises ValueError
    naming the text when it is not one."""
    if family != 6 and (split := split_ipv4(text)) is not None and not split[0] & (_ALL4 >> split[1]):
        return network4(*split)
    kind = {4: "an IPv4 ", 6: "an IPv6 "}.get(family or 0, "a ")
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueError(f"not {kind}network in CIDR form: {text!r} ({exc})") from None
    if family is not None and net.version != family:
        raise ValueError(f"not {kind}network: {text!r}")
    if "%" in text:  # ipaddress accepts a zone ("fd00::%eth0/64"): meaningless for a pod network
        raise ValueError(f"not {kind}network: {text!r} carries a zone (%)")
    if isinstance(net, IPv6Network):  # one that keeps its hash, as the IPv4 ones above
        return network6(int(net.network_address), net.prefixlen)
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


# -- cheap networks and addresses from integers (the netlink dump builds 65,536 of each per read) -----------------
#
# ipaddress's constructors validate and parse (~3 µs a network) and a network recomputes its hash on every call
# (`int(network_address) ^ int(netmask)`, ~0.5 µs; a reconcile hashes each prefix several times). The functions
# below fill in the attributes the constructors would (the ints are validated here; anything invalid goes through
# the real constructor, which raises its usual error), and the networks keep their hash.


class _KeptHashIPv4Network(IPv4Network):
    """An IPv4Network that computes its hash once: equal to, hashed, ordered, printed (repr too) and pickled as the
    IPv4Network it stands for (unpickled or copied, it is a plain one)."""

    __slots__ = ("_hash",)
    _hash: int

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:  # built through IPv4Network's own constructor (`supernet()`, `subnets()`)
            self._hash = value = super().__hash__()
            return value

    def __reduce__(self) -> tuple[type[IPv4Network], tuple[str]]:
        return IPv4Network, (str(self),)


class _KeptHashIPv6Network(IPv6Network):
    """IPv6's counterpart of `_KeptHashIPv4Network`."""

    __slots__ = ("_hash",)
    _hash: int

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            self._hash = value = super().__hash__()
            return value

    def __reduce__(self) -> tuple[type[IPv6Network], tuple[str]]:
        return IPv6Network, (str(self),)


for _kind, _base in ((_KeptHashIPv4Network, IPv4Network), (_KeptHashIPv6Network, IPv6Network)):
    _kind.__name__ = _kind.__qualname__ = _base.__name__  # repr() as the stdlib's: "IPv4Network('10.0.0.0/24')"

_NEW = object.__new__
_ALL4, _ALL6 = (1 << 32) - 1, (1 << 128) - 1
# prefix length → (netmask, its int, the host bits)
_MASKS4 = {n: (IPv4Address(_ALL4 ^ (_ALL4 >> n)), _ALL4 ^ (_ALL4 >> n), _ALL4 >> n) for n in range(33)}
_MASKS6 = {n: (IPv6Address(_ALL6 ^ (_ALL6 >> n)), _ALL6 ^ (_ALL6 >> n), _ALL6 >> n) for n in range(129)}


def address4(value: int) -> IPv4Address:
    """IPv4Address(value) for an int, without the constructor's checks (done here; out of range: its error)."""
    if not 0 <= value <= _ALL4:
        return IPv4Address(value)  # raises AddressValueError
    address: Any = _NEW(IPv4Address)
    address._ip = value
    return cast(IPv4Address, address)


def address6(value: int) -> IPv6Address:
    """IPv6Address(value) for an int (no scope), as `address4`."""
    if not 0 <= value <= _ALL6:
        return IPv6Address(value)  # raises AddressValueError
    address: Any = _NEW(IPv6Address)
    address._ip, address._scope_id = value, None
    return cast(IPv6Address, address)


def network4(address: int, prefixlen: int) -> IPv4Network:
    """IPv4Network((address, prefixlen)) (strict) that keeps its hash; raises what that constructor raises for an
    invalid pair (host bits set, length or address out of range)."""
    mask = _MASKS4.get(prefixlen) if type(prefixlen) is int else None
    if mask is None or not 0 <= address <= _ALL4 or address & mask[2]:
        return _KeptHashIPv4Network((address, prefixlen))  # the validating constructor: raises
    net: Any = _NEW(_KeptHashIPv4Network)
    net.network_address, net.netmask, net._prefixlen = address4(address), mask[0], prefixlen
    net._hash = hash(address ^ mask[1])
    if prefixlen >= 31:  # what IPv4Network.__init__ does for /31 and /32
        net.hosts = net.__iter__ if prefixlen == 31 else lambda: [IPv4Address(address)]
    return cast(IPv4Network, net)


def network6(address: int, prefixlen: int) -> IPv6Network:
    """IPv6Network((address, prefixlen)) (strict) that keeps its hash, as `network4`."""
    mask = _MASKS6.get(prefixlen) if type(prefixlen) is int else None
    if mask is None or not 0 <= address <= _ALL6 or address & mask[2]:
        return _KeptHashIPv6Network((address, prefixlen))  # the validating constructor: raises
    net: Any = _NEW(_KeptHashIPv6Network)
    net.network_address, net.netmask, net._prefixlen = address6(address), mask[0], prefixlen
    net._hash = hash(address ^ mask[1])
    if prefixlen >= 127:  # what IPv6Network.__init__ does for /127 and /128
        net.hosts = net.__iter__ if prefixlen == 127 else lambda: [IPv6Address(address)]
    return cast(IPv6Network, net)
