"""Controller configuration: environment variables with the `HUBNET_` prefix (names are a contract, see docs)."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from hubnet.linux import ROUTE_PROTO
from hubnet.net import Address, Network, parse_ip, parse_network
from hubnet.server.domain.errors import InvalidInput
from hubnet.server.domain.validation import check_node_prefix, check_pool_range
from hubnet.server.routing.backends import BackendName
from hubnet.server.routing.base import RESERVED_PROTOS

Tokens = Annotated[tuple[str, ...], NoDecode]
# Comma-separated in the environment, at most one per family, kept IPv4 first (docs/dual-stack.md).
Networks = Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode]
Addresses = Annotated[tuple[IPv4Address | IPv6Address, ...], NoDecode]


def _split(value: object) -> object:
    """Comma-separated tokens from the environment; empty items dropped."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg", "postgres")


def split_listen(listen: str) -> tuple[str, int]:
    """`host:port`, `[ipv6]:port` or `:port` (127.0.0.1) as (host, port); ValueError unless the port is 1..65535.

    Whether a host name resolves is the start-up's to check (it needs the system), not the parser's.
    """
    host, colon, port = listen.rpartition(":")
    if not colon or not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise ValueError(f"expected host:port with a port in 1..65535, got {listen!r}")
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(f"unclosed '[' in {listen!r}")
        try:
            return str(IPv6Address(host[1:-1])), int(port)
        except ValueError:
            raise ValueError(f"{host} is not an IPv6 address in brackets") from None
    if ":" in host:
        raise ValueError(f"an IPv6 address goes in brackets ([::1]:6780), got {listen!r}")
    return host or "127.0.0.1", int(port)


def _per_family(value: object, parse: Callable[[str], Any], kind: str) -> object:
    """A comma-separated string (or one value, or a sequence) as a tuple, IPv4 first, at most one per family."""
    if isinstance(value, str):
        value = [item.strip() for item in value.split(",") if item.strip()]
    elif not isinstance(value, list | tuple):
        value = [value]
    items: list[Any] = [parse(item) if isinstance(item, str) else item for item in value]
    families = [item.version for item in items]
    if len(set(families)) != len(families):
        raise ValueError(f"at most one {kind} per address family (IPv4, IPv6), got {', '.join(map(str, items))}")
    return tuple(sorted(items, key=lambda item: item.version))


class Settings(BaseSettings):
    """Everything the controller reads from its environment. Built once by the caller, never at import time."""

    model_config = SettingsConfigDict(env_prefix="HUBNET_", extra="ignore", frozen=True, populate_by_name=True)

    state_dir: Path = Path("/var/lib/hubnet")
    database_url: str = ""
    # The configured pools, one per family at most ("10.244.0.0/16,fd00:10:244::/56"); `cluster_cidr=` and
    # `service_cidr=` keep working as keyword names (tests, older callers).
    cluster_cidrs: Networks = Field(
        default=(IPv4Network("10.244.0.0/16"),),
        validation_alias=AliasChoices("HUBNET_CLUSTER_CIDR", "cluster_cidr", "cluster_cidrs"),
    )
    node_prefix: int = Field(default=24, ge=8, le=30)
    # Kubernetes' --node-cidr-mask-size-ipv6 default; at most 16 bits longer than the pool (65,536 node subnets).
    node_prefix_v6: int = Field(default=64, ge=8, le=126)
    service_cidrs: Networks = Field(
        default=(), validation_alias=AliasChoices("HUBNET_SERVICE_CIDR", "service_cidr", "service_cidrs")
    )
    listen: str = "127.0.0.1:6780"
    bootstrap_tokens: Tokens = ()
    admin_tokens: Tokens = ()
    router_addresses: Addresses = Field(
        default=(), validation_alias=AliasChoices("HUBNET_ROUTER_ADDRESS", "router_address", "router_addresses")
    )
    # Warn (readiness "degraded", `hubnet pools`, metric) when a pool's free subnets fall below this share of its
    # total, in percent ("10" or "10%"); an exhausted pool is always reported.
    pool_warn_free: float = Field(default=10.0, ge=0, le=100)

    lease_ttl_seconds: float = Field(default=60.0, gt=0)
    release_grace_seconds: float = Field(default=3600.0, ge=0)
    quarantine_seconds: float = Field(default=600.0, ge=0)
    reaper_interval_seconds: float = Field(default=5.0, gt=0)
    # A router agent that has not reported for this long is `down`: it no longer counts in (or blocks) a node's
    # route state. Checked by every reaper pass, so it takes effect within one reaper interval more.
    router_down_seconds: float = Field(default=10.0, gt=0)

    # HUBNET_MODE (docs/routing.md, "Direct mode"): `hub` routes pods through the router(s); `direct` has every node
    # agent follow the route feed and route straight to the other nodes (their pods reachable on one L2 segment).
    mode: Literal["hub", "direct"] = "hub"
    # Direct mode: the underlay prefixes nodes must be on (on-link with each other); a node address outside every
    # one of its family is refused (422 on `address`). Empty: not checked (the controller cannot tell).
    direct_underlay: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()
    route_backend: BackendName = "none"
    route_proto: int = Field(default=ROUTE_PROTO, ge=1, le=255)
    route_table: int = Field(default=254, ge=1)
    router_netns: str | None = None
    reconcile_interval: float = Field(default=10.0, gt=0)
    route_dry_run: bool = False

    # HUBNET_ROUTE_BACKEND=bgp (docs/bgp.md): the controller runs gobgpd as its child and announces every node's
    # subnet with the node's address as next hop. Peers live in the database (`/v1/bgp/peers`).
    bgp_asn: int = Field(default=64512, ge=1, le=4294967295)
    bgp_router_id: IPv4Address | None = None  # default: the IPv4 address of HUBNET_BGP_LISTEN, when it names one
    bgp_listen: str = "0.0.0.0:179"  # where the speaker accepts sessions; port 0: it only connects out
    bgp_gr_restart_seconds: int = Field(default=120, ge=1, le=4095)  # RFC 4724's restart time is 12 bits
    bgp_gobgpd: str = "gobgpd"  # the engine binary (a path, or a name on PATH)
    # gobgpd's gRPC API: 0 (default) a unix socket in a private 0700 directory (the API has no authentication); a
    # port: TCP on 127.0.0.1 (any local user could then change the routes)
    bgp_api_port: int = Field(default=0, ge=0, le=65535)

    # HTTPS (TLS 1.2 minimum, see hubnet/server/tls.py). The names first; the older ones keep working.
    tls_cert: Path | None = Field(
        default=None, validation_alias=AliasChoices("HUBNET_TLS_CERT_FILE", "HUBNET_TLS_CERT")
    )
    tls_key: Path | None = Field(default=None, validation_alias=AliasChoices("HUBNET_TLS_KEY_FILE", "HUBNET_TLS_KEY"))

    max_body_bytes: int = 64 * 1024
    # Slow clients (hubnet.server.protocol): a request must arrive complete within this many seconds of its first
    # byte, or its connection is closed; an idle keep-alive connection is closed after keep_alive_seconds.
    request_timeout_seconds: float = Field(default=20.0, gt=0, le=3600)
    keep_alive_seconds: int = Field(default=75, ge=1, le=3600)
    # Per credential (sha256 of the bearer token): generous, so 64 clients sharing one bootstrap token are not
    # throttled; per client address for answers of 401 (guessing credentials). 0 disables a limit.
    rate_limit_per_second: float = Field(default=5000.0, ge=0)
    rate_limit_burst: int = Field(default=10000, ge=1)
    rate_limit_auth_failures_per_second: float = Field(default=5.0, ge=0)
    rate_limit_auth_failures_burst: int = Field(default=100, ge=1)
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("bootstrap_tokens", "admin_tokens", mode="before")
    @classmethod
    def _tokens(cls, value: object) -> object:
        return _split(value)

    @field_validator("pool_warn_free", mode="before")
    @classmethod
    def _percent(cls, value: object) -> object:
        return value.strip().removesuffix("%") if isinstance(value, str) else value

    @field_validator("cluster_cidrs", "service_cidrs", mode="before")
    @classmethod
    def _strict_networks(cls, value: object) -> object:
        return _per_family(value, parse_network, "network")

    @field_validator("direct_underlay", mode="before")
    @classmethod
    def _underlay(cls, value: object) -> object:
        value = _split(value)
        if isinstance(value, tuple):
            return tuple(parse_network(v) if isinstance(v, str) else v for v in value)
        return value

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("router_addresses", mode="before")
    @classmethod
    def _addresses(cls, value: object) -> object:
        return _per_family(value, parse_ip, "address")

    @field_validator("router_netns", "tls_cert", "tls_key", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        split_listen(value)
        return value

    @field_validator("bgp_listen")
    @classmethod
    def _bgp_listen(cls, value: str) -> str:
        host, colon, port = value.rpartition(":")
        if colon and port == "0":  # 0: no listening socket (gobgpd's -1), sessions are only connected out
            split_listen(f"{host}:1")
        else:
            split_listen(value)
        return value

    @field_validator("bgp_router_id", mode="before")
    @classmethod
    def _router_id(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _bgp(self) -> Settings:
        if self.route_backend != "bgp":
            return self
        if self.bgp_id is None:
            raise ValueError(
                "HUBNET_BGP_ROUTER_ID is needed (an IPv4 address unique among the BGP speakers) unless "
                "HUBNET_BGP_LISTEN names an IPv4 address"
            )
        if self.quarantine_seconds < self.bgp_gr_restart_seconds:
            # Routers keep a vanished speaker's routes for the restart time: a subnet freed meanwhile must not go to
            # another node while a router may still send its traffic to the old one.
            raise ValueError(
                f"HUBNET_QUARANTINE_SECONDS ({self.quarantine_seconds:g}) must be at least "
                f"HUBNET_BGP_GR_RESTART_SECONDS ({self.bgp_gr_restart_seconds}) with the bgp route backend"
            )
        return self

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        scheme, found, _ = value.partition("://")
        if value and scheme not in DATABASE_SCHEMES:  # never echo the URL: it may carry a password
            given = f"scheme {scheme!r}" if found else "no URL scheme"
            raise ValueError(f"only sqlite:///PATH and postgresql://… are supported, got {given}")
        return value

    @field_validator("route_proto")
    @classmethod
    def _own_proto(cls, value: int) -> int:
        # Whatever the backend: the nodes mark their own cluster routes with it too (`route_proto` of the record).
        if value in RESERVED_PROTOS:
            raise ValueError(
                f"{value} is one of the kernel's own protocol numbers (1-4); use 5..255 (default {ROUTE_PROTO})"
            )
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _underlay_needs_direct(self) -> Settings:
        if self.direct_underlay and self.mode != "direct":
            raise ValueError("HUBNET_DIRECT_UNDERLAY is only meaningful with HUBNET_MODE=direct")
        return self

    def on_underlay(self, address: Address) -> bool:
        """Direct mode's on-link rule: `address` lies in one of HUBNET_DIRECT_UNDERLAY's prefixes of its family (True
        when none of its family is configured: the controller cannot tell)."""
        mine = [net for net in self.direct_underlay if net.version == address.version]
        return not mine or any(address in net for net in mine)

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError(
                "set both HUBNET_TLS_CERT_FILE and HUBNET_TLS_KEY_FILE (PEM certificate chain and key), or neither "
                "(the older names HUBNET_TLS_CERT / HUBNET_TLS_KEY mean the same)"
            )
        return self

    @field_validator("cluster_cidrs")
    @classmethod
    def _usable_pools(cls, value: tuple[Network, ...]) -> tuple[Network, ...]:
        if not value:
            raise ValueError("at least one pod network is needed (HUBNET_CLUSTER_CIDR)")
        try:
            return tuple(check_pool_range(net, field="HUBNET_CLUSTER_CIDR") for net in value)
        except InvalidInput as exc:
            raise ValueError(exc.detail) from None

    @model_validator(mode="after")
    def _router_outside_pool(self) -> Settings:
        for router in self.router_addresses:
            for pool in self.cluster_cidrs:
                if router.version == pool.version and router in pool:
                    raise ValueError(
                        f"HUBNET_ROUTER_ADDRESS {router} lies inside HUBNET_CLUSTER_CIDR {pool}: "
                        "the router's underlay address must be outside every pod pool"
                    )
        return self

    @model_validator(mode="after")
    def _prefix_fits(self) -> Settings:
        """The same rule as `POST /v1/pools`: inside the pool, and at most 65,536 node subnets of an IPv6 pool."""
        for pool in self.cluster_cidrs:
            name = "HUBNET_NODE_PREFIX" if pool.version == 4 else "HUBNET_NODE_PREFIX_V6"
            try:
                check_node_prefix(pool, self.prefix_for(pool.version), field=name)
            except InvalidInput as exc:
                raise ValueError(exc.detail) from None
        return self

    def prefix_for(self, family: int) -> int:
        """The node prefix of a family: HUBNET_NODE_PREFIX (IPv4) or HUBNET_NODE_PREFIX_V6."""
        return self.node_prefix if family == 4 else self.node_prefix_v6

    @property
    def cluster_cidr(self) -> Network:
        """The first configured pool (IPv4 when there is one)."""
        return self.cluster_cidrs[0]

    @property
    def service_cidr(self) -> IPv4Network | None:
        """The IPv4 service CIDR, if one is configured."""
        return next((n for n in self.service_cidrs if isinstance(n, IPv4Network)), None)

    @property
    def router_address(self) -> IPv4Address | None:
        """The router's IPv4 underlay address, if one is configured (see `router_for`)."""
        return next((a for a in self.router_addresses if isinstance(a, IPv4Address)), None)

    def router_for(self, family: int) -> Address | None:
        """The router's underlay address of that family, if one is configured."""
        return next((a for a in self.router_addresses if a.version == family), None)

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL: a SQLite file in the state dir by default; bare `postgresql://` means psycopg 3."""
        url = self.database_url or f"sqlite:///{self.state_dir / 'hubnet.db'}"
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

    @property
    def listen_host_port(self) -> tuple[str, int]:
        return split_listen(self.listen)

    @property
    def bgp_listen_host_port(self) -> tuple[str, int]:
        """(address, port) of HUBNET_BGP_LISTEN; port 0 means the speaker does not listen."""
        host, _, port = self.bgp_listen.rpartition(":")
        if port == "0":
            return split_listen(f"{host}:1")[0], 0
        return split_listen(self.bgp_listen)

    @property
    def bgp_id(self) -> IPv4Address | None:
        """The BGP router id: HUBNET_BGP_ROUTER_ID, else HUBNET_BGP_LISTEN's address when it is a unicast IPv4."""
        if self.bgp_router_id is not None:
            return self.bgp_router_id
        host = self.bgp_listen_host_port[0]
        try:
            address = IPv4Address(host)
        except ValueError:
            return None
        return None if address.is_unspecified or address.is_loopback else address
