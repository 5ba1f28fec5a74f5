"""Routes ↔ GoBGP paths: the hand-assembled AddPathStream batches equal what the generated classes build field by
field, and the decoder reads our paths back (and only ours)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import pytest
from google.protobuf.any_pb2 import Any

from hubnet.server.bgp.gobgpapi import attribute_pb2 as attrs
from hubnet.server.bgp.gobgpapi import gobgp_pb2 as api
from hubnet.server.bgp.paths import PathDecoder, PathEncoder, request
from hubnet.server.domain.routes import Route

ROUTES = [
    pytest.param(Route(IPv4Network("10.244.1.0/24"), IPv4Address("192.0.2.11")), id="ipv4"),
    pytest.param(Route(IPv4Network("10.0.0.0/8"), IPv4Address("10.255.255.254")), id="ipv4-short"),
    pytest.param(Route(IPv4Network("0.0.0.0/0"), IPv4Address("192.0.2.1")), id="ipv4-default"),
    pytest.param(Route(IPv6Network("fd00:10:244:1::/64"), IPv6Address("2001:db8:1::b")), id="ipv6"),
    pytest.param(Route(IPv6Network("2001:db8:ffff:ffff::/64"), IPv6Address("fe80::1")), id="ipv6-long-text"),
]


def one(route: Route, *, withdraw: bool = False) -> api.Path:
    (batch,) = PathEncoder().batches([route], 10, withdraw=withdraw)
    (path,) = batch.paths
    return path


@pytest.mark.parametrize("route", ROUTES)
def test_encoded_path_equals_the_generated_message(route: Route) -> None:
    assert one(route) == request(route).path


@pytest.mark.parametrize("route", ROUTES)
def test_encoded_withdrawal_equals_the_generated_message(route: Route) -> None:
    path = one(route, withdraw=True)
    assert path == request(route, withdraw=True).path
    assert path.is_withdraw and not path.pattrs


@pytest.mark.parametrize("route", ROUTES)
def test_round_trip(route: Route) -> None:
    assert PathDecoder().route(one(route)) == route


def test_next_hop_is_explicit_and_origin_igp() -> None:
    path = one(Route(IPv4Network("10.244.7.0/24"), IPv4Address("192.0.2.17")))
    urls = [a.type_url.rsplit(".", 1)[1] for a in path.pattrs]
    assert urls == ["OriginAttribute", "NextHopAttribute"]
    assert attrs.NextHopAttribute.FromString(path.pattrs[1].value).next_hop == "192.0.2.17"
    assert path.family.afi == api.Family.AFI_IP and path.family.safi == api.Family.SAFI_UNICAST


def test_batches_split_by_size() -> None:
    routes = [Route(IPv4Network((0x0A000000 + (i << 8), 24)), IPv4Address("192.0.2.11")) for i in range(2500)]
    sizes = [len(b.paths) for b in PathEncoder().batches(routes, 1000)]
    assert sizes == [1000, 1000, 500]
    decoded = PathDecoder().routes(p for b in PathEncoder().batches(routes, 1000) for p in b.paths)
    assert decoded == routes


def test_decoder_reads_gobgps_ipv6_mp_reach() -> None:
    """GoBGP reports an IPv6 path's next hop in MP_REACH_NLRI (ours went in as NEXT_HOP)."""
    prefix = attrs.IPAddressPrefix(prefix_len=64, prefix="fd00:10:244:2::")
    reach = attrs.MpReachNLRIAttribute(next_hops=["2001:db8:1::c"])
    path = api.Path(
        nlri=_any(prefix),
        pattrs=[_any(attrs.OriginAttribute()), _any(reach)],
        family=api.Family(afi=api.Family.AFI_IP6, safi=api.Family.SAFI_UNICAST),
        neighbor_ip="<nil>",
    )
    assert PathDecoder().route(path) == Route(IPv6Network("fd00:10:244:2::/64"), IPv6Address("2001:db8:1::c"))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"neighbor_ip": "192.0.2.1"}, id="a-peers-path"),
        pytest.param({"is_withdraw": True}, id="withdrawn"),
    ],
)
def test_decoder_skips_what_is_not_ours(change: dict[str, object]) -> None:
    path = one(Route(IPv4Network("10.244.1.0/24"), IPv4Address("192.0.2.11")))
    for key, value in change.items():
        setattr(path, key, value)
    assert PathDecoder().route(path) is None


def test_decoder_skips_a_path_without_next_hop() -> None:
    path = one(Route(IPv4Network("10.244.1.0/24"), IPv4Address("192.0.2.11")))
    del path.pattrs[1]
    assert PathDecoder().route(path) is None


def _any(message: object) -> Any:
    packed = Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed
