"""A BGP peer as stored and configured (pure, stdlib only): what `POST /v1/bgp/peers` accepts, the database keeps
and the speaker is told. Validation lives here so the API, the CLI's messages and the speaker agree."""

from __future__ import annotations

from dataclasses import dataclass

from hubnet.net import Address

MAX_PASSWORD = 80  # TCP MD5 keys: Linux's TCP_MD5SIG_MAXKEYLEN
MAX_DESCRIPTION = 200
ASN_RANGE = range(1, 2**32)  # 4-octet ASNs (RFC 6793); 0 is reserved (RFC 7607)
TTL_RANGE = range(1, 256)


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
