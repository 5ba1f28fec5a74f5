"""A BGP peer as stored and configured (pure, stdlib only): what `POST /v1/bgp/peers` accepts, the database keeps
and the speaker is told. Validation lives here so the API, the CLI's messages and the speaker agree.

`parse_peer` refuses bad input with `InvalidInput` naming the field and never quotes a password (nor the value of
an unknown field, which may be a password under a mistyped name)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from hubnet.net import Address
from hubnet.server.domain.errors import InvalidInput

MAX_PASSWORD = 80  # TCP MD5 keys: Linux's TCP_MD5SIG_MAXKEYLEN
MAX_DESCRIPTION = 200
ASN_RANGE = range(1, 2**32)  # 4-octet ASNs (RFC 6793); 0 is reserved (RFC 7607)
TTL_RANGE = range(1, 256)
FIELDS = ("address", "asn", "password", "multihop", "description")
# A Linux interface name as an IPv6 zone (`fe80::1%eth0`): at most 15 characters (IFNAMSIZ - 1), or an index.
_ZONE = re.compile(r"[A-Za-z0-9_.-]{1,15}")
_NOT_UNICAST = (
    ("unspecified", ipaddress.ip_network("0.0.0.0/8")),  # "this network" (RFC 1122): never a destination
    ("loopback", ipaddress.ip_network("127.0.0.0/8")),
    ("multicast", ipaddress.ip_network("224.0.0.0/4")),
    ("reserved", ipaddress.ip_network("240.0.0.0/4")),  # 255.255.255.255 included
    ("unspecified", ipaddress.ip_network("::/128")),
    ("loopback", ipaddress.ip_network("::1/128")),
    ("multicast", ipaddress.ip_network("ff00::/8")),
)
_V4_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
_LINK_LOCAL = ipaddress.ip_network("fe80::/10")


@dataclass(frozen=True)
class PeerSpec:
    """One peer: its address (IPv4 or IPv6), ASN (iBGP when equal to HUBNET_BGP_ASN), optional TCP MD5 password,
    optional eBGP multihop TTL and a free-text description. `password` is a secret: never logged, never served."""

    address: Address
    asn: int
    password: str | None = None
    multihop: int | None = None
    description: str = ""

    def __repr__(self) -> str:  # keep the password out of logs and tracebacks
        secret = "***" if self.password else None
        return (
            f"PeerSpec(address={self.address!s}, asn={self.asn}, password={secret}, multihop={self.multihop}, "
            f"description={self.description!r})"
        )


@dataclass(frozen=True)
class PeerRecord:
    """A stored peer (a `bgp_peers` row): the address as canonical text, as the table's unique index compares it."""

    address: str
    asn: int
    password: str | None = field(repr=False)
    multihop: int | None
    description: str
    created_at: float

    def spec(self) -> PeerSpec:
        """The peer for the speaker; ValueError for a row whose address is not an IP address (edited by hand)."""
        address = ipaddress.ip_address(self.address)
        return PeerSpec(address, self.asn, self.password, self.multihop, self.description)


def canonical_address(text: object, *, field: str = "address") -> Address:
    """An IPv4 or IPv6 address (`fe80::1%eth0`: a link-local one with its interface), canonical when printed: IPv6
    compressed and in lower case, so `FD00:0::1` and `fd00::1` are one peer. Only the syntax is checked here."""
    if not isinstance(text, str):
        raise InvalidInput(f"{field} must be a string holding an IPv4 or IPv6 address", field=field)
    base, percent, zone = text.partition("%")
    try:
        address = ipaddress.ip_address(base)
    except ValueError:
        raise InvalidInput(f"{field} {text[:64]!r} is not an IPv4 or IPv6 address", field=field) from None
    if not percent:
        return address
    if address.version != 6 or address not in _LINK_LOCAL:
        raise InvalidInput(f"{field} {text!r}: only a link-local IPv6 address carries a zone (%)", field=field)
    if not _ZONE.fullmatch(zone):
        message = f"{field} {text[:64]!r}: the zone must be an interface name (1..15 of A-Za-z0-9_.-)"
        raise InvalidInput(message, field=field)
    return ipaddress.IPv6Address(f"{address}%{zone}")


def peer_address(text: object) -> Address:
    """`canonical_address`, and a unicast address a BGP session can run to: not unspecified, loopback, multicast or
    reserved, not IPv4-mapped (give the IPv4 address), and a link-local IPv6 address only with its zone."""
    address = canonical_address(text)
    plain = ipaddress.ip_address(str(address).partition("%")[0])
    for kind, network in _NOT_UNICAST:
        if plain.version == network.version and plain in network:
            raise InvalidInput(f"address {address} is a {kind} address, not a BGP peer's", field="address")
    if plain.version == 6 and plain in _V4_MAPPED:
        ipv4 = ipaddress.IPv4Address(int(plain) & 0xFFFFFFFF)
        raise InvalidInput(f"address {address} is IPv4-mapped: give the IPv4 address {ipv4}", field="address")
    if plain.version == 6 and plain in _LINK_LOCAL and "%" not in str(address):
        raise InvalidInput(
            f"address {address} is link-local: name its interface as a zone (e.g. {address}%eth0)", field="address"
        )
    return address


def parse_peer(body: object) -> PeerSpec:
    """The peer of a `POST /v1/bgp/peers` body (a decoded JSON object). Raises InvalidInput naming the first bad
    field: a field that is not one of FIELDS, `address` (see `peer_address`), `asn` (an integer in 1..2^32-1),
    `password` (null or 1..80 printable ASCII characters), `multihop` (null or a TTL in 1..255), `description`
    (a string of at most 200 characters, no control characters)."""
    if not isinstance(body, Mapping):
        raise InvalidInput("the body must be a JSON object", field="body")
    unknown = sorted(str(k) for k in body if k not in FIELDS)
    if unknown:  # named, never quoted: the value may be a password under a mistyped name
        raise InvalidInput(f"unknown field {unknown[0]!r} (known: {', '.join(FIELDS)})", field=unknown[0])
    for name in ("address", "asn"):
        if name not in body:
            raise InvalidInput(f"{name} is required", field=name)
    return PeerSpec(
        address=peer_address(body["address"]),
        asn=_integer(body["asn"], "asn", ASN_RANGE),
        password=_password(body.get("password")),
        multihop=None if body.get("multihop") is None else _integer(body["multihop"], "multihop", TTL_RANGE),
        description=_description(body.get("description", "")),
    )


def _integer(value: object, name: str, allowed: range) -> int:
    """An integer (an integral JSON number such as 65000.0 counts, as in JSON Schema; `true` does not) in `allowed`."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be an integer, not {_json_type(value)}", field=name)
    if value not in allowed:
        raise InvalidInput(f"{name} {value} is out of range {allowed.start}..{allowed.stop - 1}", field=name)
    return value


def _password(value: object) -> str | None:
    """Null (no TCP MD5), or 1..80 printable ASCII characters. The messages never quote it."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"password must be a string, not {_json_type(value)}", field="password")
    if not 1 <= len(value) <= MAX_PASSWORD:
        raise InvalidInput(
            f"password must be 1..{MAX_PASSWORD} characters long (TCP MD5 key), got {len(value)}", field="password"
        )
    if not all(" " <= c <= "~" for c in value):
        raise InvalidInput("password must hold printable ASCII characters only", field="password")
    return value


def _description(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"description must be a string, not {_json_type(value)}", field="description")
    if len(value) > MAX_DESCRIPTION:
        message = f"description is {len(value)} characters long, at most {MAX_DESCRIPTION}"
        raise InvalidInput(message, field="description")
    if any(c < " " or c == "\x7f" for c in value):  # PostgreSQL refuses NUL in text; the others garble tables
        raise InvalidInput("description must not hold control characters", field="description")
    return value


def _json_type(value: object) -> str:
    """How JSON calls the value's type (for messages that must not quote the value)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
