"""BGP peer input (pure, `hubnet.server.bgp.peers.parse_peer`): every refusal names its field and never quotes a
password; accepted addresses come out canonical."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubnet.server.bgp.peers import PeerRecord, PeerSpec, canonical_address, parse_peer
from hubnet.server.domain.errors import InvalidInput

SECRET = "s3cr3t-Md5-key"


def body(**overrides: Any) -> dict[str, Any]:
    """A valid body with some fields replaced; a field set to `...` is left out."""
    values: dict[str, Any] = {"address": "192.168.1.1", "asn": 65001, **overrides}
    return {k: v for k, v in values.items() if v is not Ellipsis}


BAD = {
    "not an object": ([1, 2], "body"),
    "address missing": (body(address=...), "address"),
    "address garbage": (body(address="router-1"), "address"),
    "address a number": (body(address=17), "address"),
    "address null": (body(address=None), "address"),
    "address cidr": (body(address="192.168.1.1/32"), "address"),
    "address leading zeros": (body(address="192.168.001.1"), "address"),
    "address empty": (body(address=""), "address"),
    "address v4 loopback": (body(address="127.0.0.1"), "address"),
    "address v6 loopback": (body(address="::1"), "address"),
    "address v4 unspecified": (body(address="0.0.0.0"), "address"),
    "address this network": (body(address="0.1.2.3"), "address"),
    "address v6 unspecified": (body(address="::"), "address"),
    "address v4 multicast": (body(address="239.1.1.1"), "address"),
    "address v6 multicast": (body(address="ff02::2"), "address"),
    "address broadcast": (body(address="255.255.255.255"), "address"),
    "address reserved": (body(address="240.0.0.1"), "address"),
    "address ipv4-mapped": (body(address="::ffff:192.168.1.1"), "address"),
    "address link-local without zone": (body(address="fe80::1"), "address"),
    "address zone on a global address": (body(address="fd00::1%eth0"), "address"),
    "address empty zone": (body(address="fe80::1%"), "address"),
    "address zone too long": (body(address="fe80::1%" + "e" * 16), "address"),
    "address zone with a slash": (body(address="fe80::1%a/b"), "address"),
    "asn missing": (body(asn=...), "asn"),
    "asn zero": (body(asn=0), "asn"),
    "asn negative": (body(asn=-1), "asn"),
    "asn above 4-octet": (body(asn=4294967296), "asn"),
    "asn true": (body(asn=True), "asn"),
    "asn false": (body(asn=False), "asn"),
    "asn string": (body(asn="65001"), "asn"),
    "asn fraction": (body(asn=65001.5), "asn"),
    "asn null": (body(asn=None), "asn"),
    "password empty": (body(password=""), "password"),
    "password too long": (body(password="p" * 81), "password"),
    "password non-ascii": (body(password="pässwort"), "password"),
    "password newline": (body(password="abc\ndef"), "password"),
    "password NUL": (body(password="abc\x00"), "password"),
    "password tab": (body(password="abc\tdef"), "password"),
    "password DEL": (body(password="abc\x7f"), "password"),
    "password a number": (body(password=12345), "password"),
    "password a list": (body(password=["x"]), "password"),
    "multihop zero": (body(multihop=0), "multihop"),
    "multihop 256": (body(multihop=256), "multihop"),
    "multihop true": (body(multihop=True), "multihop"),
    "multihop string": (body(multihop="2"), "multihop"),
    "description too long": (body(description="d" * 201), "description"),
    "description not a string": (body(description=5), "description"),
    "description null": (body(description=None), "description"),
    "description NUL": (body(description="rack\x001"), "description"),
    "unknown field": (body(passwd=SECRET), "passwd"),
    "unknown field beside valid ones": (body(password=SECRET, holdtime=90), "holdtime"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_names_the_field(case: str) -> None:
    value, field = BAD[case]
    with pytest.raises(InvalidInput) as err:
        parse_peer(value)
    assert err.value.field == field, err.value.detail
    assert err.value.status == 422
    assert SECRET not in err.value.detail and "pässwort" not in err.value.detail and "p" * 81 not in err.value.detail


GOOD = {
    "ipv4": (body(), PeerSpec(IPv4Address("192.168.1.1"), 65001)),
    "ipv6 upper case, long form": (
        body(address="FD00:0:0::0001", asn=4294967295),
        PeerSpec(IPv6Address("fd00::1"), 4294967295),
    ),
    "link-local with its interface": (
        body(address="FE80::1%eth0.100", asn=1),
        PeerSpec(IPv6Address("fe80::1%eth0.100"), 1),
    ),
    "everything": (
        body(password=SECRET, multihop=255, description="tor-1, rack 7"),
        PeerSpec(IPv4Address("192.168.1.1"), 65001, SECRET, 255, "tor-1, rack 7"),
    ),
    "optional fields null": (body(password=None, multihop=None), PeerSpec(IPv4Address("192.168.1.1"), 65001)),
    "an integral number counts as an integer": (body(asn=65001.0), PeerSpec(IPv4Address("192.168.1.1"), 65001)),
    "longest password, spaces and symbols": (
        body(password=" ~!" + "x" * 77),
        PeerSpec(IPv4Address("192.168.1.1"), 65001, " ~!" + "x" * 77),
    ),
    "longest description": (
        body(description="d" * 200),
        PeerSpec(IPv4Address("192.168.1.1"), 65001, None, None, "d" * 200),
    ),
    "link-local ipv4 is unicast": (body(address="169.254.0.1"), PeerSpec(IPv4Address("169.254.0.1"), 65001)),
}


@pytest.mark.parametrize("case", list(GOOD))
def test_good_input(case: str) -> None:
    value, expected = GOOD[case]
    assert parse_peer(value) == expected


def test_canonical_spelling() -> None:
    assert str(canonical_address("FD00:0::1")) == "fd00::1"
    assert str(canonical_address("fe80::A%Eth0")) == "fe80::a%Eth0"  # an interface name keeps its case
    with pytest.raises(InvalidInput):
        canonical_address("fd00::1/128")


def test_no_repr_shows_the_password() -> None:
    spec = parse_peer(body(password=SECRET))
    record = PeerRecord("192.168.1.1", 65001, SECRET, None, "", 0.0)
    for text in (repr(spec), str(spec), repr(record), str(record), repr([spec, record])):
        assert SECRET not in text
    assert "***" in repr(spec)


@given(
    address=st.one_of(st.ip_addresses(v=4, network="10.0.0.0/8"), st.ip_addresses(v=6, network="2000::/3")),
    asn=st.integers(1, 2**32 - 1),
    password=st.none() | st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=80),
    multihop=st.none() | st.integers(1, 255),
)
def test_every_valid_peer_parses_canonically(
    address: IPv4Address | IPv6Address, asn: int, password: str | None, multihop: int | None
) -> None:
    upper = str(address).upper()  # any spelling of the address gives the same peer
    spec = parse_peer({"address": upper, "asn": asn, "password": password, "multihop": multihop})
    assert spec == PeerSpec(ip_address(str(address)), asn, password, multihop)
    assert str(spec.address) == str(address)


@given(asn=st.one_of(st.integers(max_value=0), st.integers(min_value=2**32), st.booleans(), st.text(), st.floats()))
def test_every_bad_asn_names_asn(asn: object) -> None:
    if isinstance(asn, float) and asn.is_integer() and 1 <= asn < 2**32:
        return  # an integral number in range is an ASN
    with pytest.raises(InvalidInput) as err:
        parse_peer(body(asn=asn))
    assert err.value.field == "asn"


@given(password=st.text(min_size=1, max_size=120))
def test_any_bad_password_is_refused_without_being_quoted(password: str) -> None:
    valid = len(password) <= 80 and all(" " <= c <= "~" for c in password)
    try:
        parse_peer(body(password=password))
    except InvalidInput as err:
        assert not valid and err.field == "password"
        assert password not in err.detail  # an invalid one is too long or holds a character no message has
    else:
        assert valid
