"""hubnet's routes as GoBGP paths and back: one path per route, NLRI = the subnet, an explicit NEXT_HOP = the node.

Encoding is the hot spot of a full load (65,536 routes): building a `Path` message with its nested `Any`s costs
~17 µs a route in Python, most of it copying sub-messages. So a path is assembled from serialized pieces instead:
the NLRI part per route (a few bytes, encoded here), and the rest — ORIGIN, NEXT_HOP, the family — serialized once
per next hop by the generated classes and cached. Concatenated protobuf fields are a valid message (the wire
format is a sequence of fields), so `AddPathStreamRequest.FromString` parses the batch back into the generated
class that the stub sends; tests/unit/bgp/test_paths.py checks the result equals the one built field by field.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from google.protobuf.any_pb2 import Any

from hubnet.net import Address, Network
from hubnet.server.bgp.gobgpapi import attribute_pb2 as attrs
from hubnet.server.bgp.gobgpapi import gobgp_pb2 as api
from hubnet.server.domain.routes import Route

V4 = api.Family(afi=api.Family.AFI_IP, safi=api.Family.SAFI_UNICAST)
V6 = api.Family(afi=api.Family.AFI_IP6, safi=api.Family.SAFI_UNICAST)
FAMILIES = {4: V4, 6: V6}
FAMILY_NAMES = {
    (api.Family.AFI_IP, api.Family.SAFI_UNICAST): "ipv4-unicast",
    (api.Family.AFI_IP6, api.Family.SAFI_UNICAST): "ipv6-unicast",
}

_URL = "type.googleapis.com/apipb."
PREFIX_URL = _URL + "IPAddressPrefix"
NEXT_HOP_URL = _URL + "NextHopAttribute"
MP_REACH_URL = _URL + "MpReachNLRIAttribute"
_ORIGIN_IGP = Any(type_url=_URL + "OriginAttribute", value=attrs.OriginAttribute(origin=0).SerializeToString())
_PATHS_FIELD = 3  # AddPathStreamRequest.paths
_NLRI_FIELD = 1  # Path.nlri
# A path a peer sent us names that peer; ours (AddPath) have no source address ("<nil>" from Go's net.IP(nil)).
_NO_NEIGHBOR = frozenset({"", "<nil>"})
_NO_HOP = IPv4Address(0)  # a next hop that did not parse (never ours)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): tag, length, payload."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


_PREFIX_ANY_URL = _field(1, PREFIX_URL.encode())  # Any.type_url


def _nlri(prefix: Network) -> bytes:
    """`Path.nlri` = Any{IPAddressPrefix{prefix_len, prefix}}, serialized."""
    length = b"\x08" + _varint(prefix.prefixlen) if prefix.prefixlen else b""  # proto3 leaves zero out
    value = length + _field(2, prefix.network_address.compressed.encode())
    return _field(_NLRI_FIELD, _PREFIX_ANY_URL + _field(2, value))


class PathEncoder:
    """Serialized paths for AddPathStream (announce) and withdrawals; caches the per-next-hop attribute part."""

    def __init__(self) -> None:
        self._tails: dict[Address, bytes] = {}
        self._withdraw = {v: api.Path(family=f, is_withdraw=True).SerializeToString() for v, f in FAMILIES.items()}

    def _tail(self, hop: Address) -> bytes:
        tail = self._tails.get(hop)
        if tail is None:
            next_hop = Any(type_url=NEXT_HOP_URL, value=attrs.NextHopAttribute(next_hop=str(hop)).SerializeToString())
            tail = api.Path(pattrs=[_ORIGIN_IGP, next_hop], family=FAMILIES[hop.version]).SerializeToString()
            self._tails[hop] = tail
        return tail

    def path(self, route: Route, *, withdraw: bool = False) -> bytes:
        """One serialized `Path`: announce `route` (explicit NEXT_HOP; GoBGP turns an IPv6 one into MP_REACH),
        or withdraw its prefix."""
        tail = self._withdraw[route.family] if withdraw else self._tail(route.next_hop)
        return _nlri(route.prefix) + tail

    def batches(
        self, routes: Sequence[Route], size: int, *, withdraw: bool = False
    ) -> Iterator[api.AddPathStreamRequest]:
        """The stream's requests, `size` paths each (table GLOBAL, the default)."""
        for start in range(0, len(routes), size):
            body = b"".join(_field(_PATHS_FIELD, self.path(r, withdraw=withdraw)) for r in routes[start : start + size])
            yield api.AddPathStreamRequest.FromString(body)


def request(route: Route, *, withdraw: bool = False) -> api.AddPathRequest:
    """One route as a unary AddPath request, built field by field (the slow, obvious way: per-route retries)."""
    return api.AddPathRequest(table_type=api.GLOBAL, path=_path_message(route, withdraw=withdraw))


def _path_message(route: Route, *, withdraw: bool = False) -> api.Path:
    prefix = attrs.IPAddressPrefix(prefix_len=route.prefix.prefixlen, prefix=route.prefix.network_address.compressed)
    nlri = Any(type_url=PREFIX_URL, value=prefix.SerializeToString())
    if withdraw:
        return api.Path(nlri=nlri, family=FAMILIES[route.family], is_withdraw=True)
    hop = Any(type_url=NEXT_HOP_URL, value=attrs.NextHopAttribute(next_hop=str(route.next_hop)).SerializeToString())
    return api.Path(nlri=nlri, pattrs=[_ORIGIN_IGP, hop], family=FAMILIES[route.family])


class PathDecoder:
    """Our routes out of GoBGP paths (a watch event's or ListPath's): only locally originated, announced unicast
    paths; anything else (a path a peer sent, another NLRI type) is skipped. Caches next hops by their bytes."""

    def __init__(self) -> None:
        self._hops: dict[bytes, Address] = {}  # by the attribute's bytes: a few hundred next hops, 65,536 paths

    def routes(self, paths: Iterable[api.Path]) -> list[Route]:
        out = []
        for path in paths:
            route = self.route(path)
            if route is not None:
                out.append(route)
        return out

    def route(self, path: api.Path) -> Route | None:
        if path.is_withdraw or path.neighbor_ip not in _NO_NEIGHBOR:
            return None
        nlri = path.nlri
        if nlri.type_url != PREFIX_URL:
            return None
        hop = None
        for attr in path.pattrs:  # ORIGIN, NEXT_HOP (MP_REACH for IPv6), LOCAL_PREF: a loop beats a generator
            url = attr.type_url
            if url in (NEXT_HOP_URL, MP_REACH_URL):
                value = attr.value
                hop = self._hops.get(value)
                if hop is None:
                    hop = self._hops[value] = _parse_hop(url, value)
                break
        if hop is None or hop is _NO_HOP:
            return None
        prefix = attrs.IPAddressPrefix.FromString(nlri.value)
        if path.family.afi == api.Family.AFI_IP:
            return Route(IPv4Network((int.from_bytes(socket.inet_aton(prefix.prefix)), prefix.prefix_len)), hop)
        address = int.from_bytes(socket.inet_pton(socket.AF_INET6, prefix.prefix))
        return Route(IPv6Network((address, prefix.prefix_len)), hop)


def _parse_hop(url: str, value: bytes) -> Address:
    if url == NEXT_HOP_URL:
        text = attrs.NextHopAttribute.FromString(value).next_hop
    else:
        hops = attrs.MpReachNLRIAttribute.FromString(value).next_hops
        text = hops[0] if hops else ""
    try:
        return IPv6Address(text) if ":" in text else IPv4Address(text)
    except ValueError:
        return _NO_HOP
