"""The records that cross a process boundary, defined once (stdlib only): the controller serves them, the API schema
is derived from them, the node agent and the admin CLI parse into them.

Parsing is strict (a controller is never trusted blindly): a missing field or a value of the wrong type raises
`WireError` naming the field; unknown fields are ignored, so the controller may add fields (the contract is
additive) without breaking older agents.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any, TypeVar

PROBLEM_PREFIX = "urn:hubnet:problem:"


class LeaseState(StrEnum):
    ACTIVE = "active"
    STALE = "stale"
    RELEASED = "released"


class RouteState(StrEnum):
    PENDING = "pending"
    PROGRAMMED = "programmed"
    FAILED = "failed"
    # The record is released and its route no longer desired; until the reconciler has seen the route gone from the
    # router it is `withdrawing`, and the subnet is not handed out again before it says `withdrawn`.
    WITHDRAWING = "withdrawing"
    WITHDRAWN = "withdrawn"


class RouterStatus(StrEnum):
    """A router agent's liveness (docs/api.md, Routers): only `up` routers count in a node's aggregate route state."""

    SYNCING = "syncing"  # joined, or reporting again after `down`, and not yet complete
    UP = "up"  # reported a complete table; reports arrive
    DOWN = "down"  # no report for HUBNET_ROUTER_DOWN_SECONDS


class WireError(ValueError):
    """A record that does not have the shape of the contract; `field` names the offending field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


R = TypeVar("R", bound="Record")


class Record:
    """Base of the wire records: `to_json` / `from_json` over the dataclass fields and their annotated types
    (str, int, float, bool, a StrEnum, list[str], dict[str, str], list[dict[str, str]], a list of records, or a
    union of those with None)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload, no-any-return]

    @classmethod
    def from_json(cls: type[R], data: object) -> R:
        if not isinstance(data, Mapping):
            raise WireError(f"{cls.__name__} must be a JSON object, not {type(data).__name__}", cls.__name__)
        values: dict[str, Any] = {}
        for name, (kinds, required) in _schema(cls).items():
            if name not in data:
                if required:
                    raise WireError(f"{cls.__name__}.{name} is missing", name)
                continue
            values[name] = _value(kinds, data[name], f"{cls.__name__}.{name}", name)
        return cls(**values)


_SCHEMAS: dict[type, dict[str, tuple[tuple[Any, ...], bool]]] = {}


def _schema(cls: type) -> dict[str, tuple[tuple[Any, ...], bool]]:
    """Per field (read once per class): the accepted kinds (annotations, `X | None` split) and whether the field is
    required (no default)."""
    if cls not in _SCHEMAS:
        hints = typing.get_type_hints(cls)
        result = {}
        for f in fields(cls):
            hint = hints[f.name]
            kinds = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
            required = f.default is MISSING and f.default_factory is MISSING
            result[f.name] = (kinds, required)
        _SCHEMAS[cls] = result
    return _SCHEMAS[cls]


def _is_enum(kind: Any) -> typing.TypeGuard[type[StrEnum]]:
    return isinstance(kind, type) and issubclass(kind, StrEnum)


def _is_record(kind: Any) -> typing.TypeGuard[type[Record]]:
    return isinstance(kind, type) and issubclass(kind, Record)


def _str_map(value: object) -> typing.TypeGuard[dict[str, str]]:
    """A JSON object of strings to strings."""
    return isinstance(value, dict) and all(type(k) is str and type(v) is str for k, v in value.items())


def _value(kinds: tuple[Any, ...], value: object, where: str, name: str) -> object:
    if value is None and type(None) in kinds:
        return None
    for kind in kinds:
        origin, args = typing.get_origin(kind) or kind, typing.get_args(kind)
        if _is_enum(kind) and isinstance(value, str) and value in kind._value2member_map_:
            return kind(value)
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:  # a JSON integer beyond any float: the shape is wrong, say which field
                break
        if kind in (int, bool, str) and type(value) is kind:
            return value
        if origin is dict and _str_map(value):
            return dict(value)
        if origin is list and isinstance(value, list):
            item = args[0] if args else str
            if item is str and all(type(v) is str for v in value):
                return list(value)
            if typing.get_origin(item) is dict and all(_str_map(v) for v in value):
                return [dict(v) for v in value]
            if _is_record(item):
                return [_item(item, v, f"{where}[{i}]", name) for i, v in enumerate(value)]
    raise WireError(f"{where} has an unexpected value {value!r:.80}", name)


def _item(kind: type[Record], value: object, where: str, name: str) -> Record:
    """One record of a list of records; its error names the list's field and says where in it."""
    try:
        return kind.from_json(value)
    except WireError as exc:
        raise WireError(f"{where}: {exc}", name) from None


@dataclass(frozen=True)
class Node(Record):
    """A node's record as `POST /v1/nodes`, the heartbeat and `GET /v1/nodes/{name}` return it."""

    name: str
    address: str
    subnet: str
    gateway: str | None
    generation: int
    state: LeaseState
    route_state: RouteState
    route_error: str | None
    cluster_cidrs: list[str]
    router_address: str | None
    lease_ttl_seconds: float
    lease_expires_at: float
    machine_id: str | None = None
    flags: list[str] = field(default_factory=list)
    # The routing-protocol number marking hubnet's routes (HUBNET_ROUTE_PROTO): the node marks its cluster routes
    # with it too. None from a controller older than this field: the node uses the default, 44.
    route_proto: int | None = None
    # Dual-stack (docs/dual-stack.md): every family's value, IPv4 first. `address`, `subnet`, `gateway` and
    # `router_address` keep meaning the first of these lists (IPv4 when the node has it), so older agents work.
    # Empty from a controller older than these fields: the agent uses [address], [subnet], [gateway], [router].
    addresses: list[str] = field(default_factory=list)
    subnets: list[str] = field(default_factory=list)
    gateways: list[str] = field(default_factory=list)
    router_addresses: list[str] = field(default_factory=list)
    # Where `route_state` comes from: router agent name -> that router's state for this node's current generation
    # (`pending` without a report yet; `down` routers listed with their last state, though the aggregate ignores
    # them); `{"embedded": route_state}` when the controller programs routes itself. Empty from an older controller.
    route_states: dict[str, str] = field(default_factory=dict)
    # HUBNET_MODE: `hub` (the cluster routes via the router) or `direct` (the node routes to every other node itself,
    # following `GET /v1/routes?since=`). `hub` from a controller older than this field.
    mode: str = "hub"
    # When the record was released (UNIX seconds), null while it is live: with `GET /v1/pools`'s
    # `quarantine_seconds` it tells whether its subnet is still cooling down.
    released_at: float | None = None


@dataclass(frozen=True)
class Pool(Record):
    """One pool's usage as `GET /v1/pools` shows it (`allocated + free = total`)."""

    cidr: str
    node_prefix: int
    total: int
    allocated: int
    free: int
    quarantined: int = 0  # of `free`: released less than HUBNET_QUARANTINE_SECONDS ago (handed out last)
    low: bool = False  # free below HUBNET_POOL_WARN_FREE percent of total, or none free at all
    family: int = 4  # 4 or 6 (the family of `cidr`)
    # The node subnets of the pool never handed out (the service CIDR, the router's subnet), as CIDRs: with `total`
    # they place every subnet of the pool (the console draws them). Empty from a controller older than the field.
    excluded: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Flagged(Record):
    """A stored node row that is not a well-formed subnet of some pool: served as it is, reported."""

    name: str
    subnet: str
    address: str
    flags: list[str]
    # Dual-stack: every family's subnet and address of the row, IPv4 first (`subnet`, `address`: the first).
    subnets: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BgpPeer(Record):
    """One BGP peer as `GET /v1/bgp/peers` shows it: the stored peer (never its password) and its session as this
    controller's speaker sees it (docs/bgp.md)."""

    address: str
    asn: int
    description: str
    multihop: int | None  # eBGP multihop TTL; None: a directly connected peer
    password_set: bool  # TCP MD5 is configured (the password itself is never returned)
    # The BGP FSM state in lower case: idle, connect, active, opensent, openconfirm, established; "unknown" when
    # the speaker is not running (yet).
    state: str
    uptime_seconds: float | None  # since the session reached Established; None while it is not
    prefixes_sent: int
    prefixes_accepted: int
    last_error: str | None  # why the session last went down or cannot come up (e.g. a wrong MD5 key)
    families: list[str] = field(default_factory=list)  # negotiated: "ipv4-unicast", "ipv6-unicast"
    graceful_restart: bool = False  # the peer negotiated graceful restart (so it keeps our routes if we restart)


@dataclass(frozen=True)
class Router(Record):
    """A router agent as `/v1/routers` shows it: its liveness and what its last report said about its table."""

    name: str
    status: RouterStatus
    last_report_at: float | None  # UNIX seconds; None before the first report
    synced_at: float | None  # when it last reported a complete table after coming up; None while syncing
    route_count: int  # routes it owns in its kernel table
    missing: int  # desired routes not in its table
    unexpected: int  # owned routes nothing desires
    foreign: int  # desired prefixes held by a route it does not own (never replaced)
    last_error: str | None
    applied_revision: int | None  # the feed revision its table reflects
    created_at: float


@dataclass(frozen=True)
class RouteEntry(Record):
    """One node's desired routes in the route feed (`GET /v1/routes?since=`): `routes` empty means the node has no
    route any more (released or deleted), so a router drops what it had for it."""

    node: str
    generation: int
    routes: list[dict[str, str]]  # [{"prefix": "10.244.3.0/24", "next_hop": "192.168.1.13"}], IPv4 first


@dataclass(frozen=True)
class RouteFeed(Record):
    """The answer of `GET /v1/routes?since=REV`: every live node's entry (`full`) or those of the nodes whose routes
    moved after `since`; continue with `since=revision`."""

    revision: int
    full: bool
    entries: list[RouteEntry]


@dataclass(frozen=True)
class TokenFacts(Record):
    """What the controller stores about a bootstrap token and shows (besides its sha256, which it never shows)."""

    id: int
    description: str
    created_at: float
    expires_at: float | None
    max_uses: int | None
    uses: int
    revoked_at: float | None


@dataclass(frozen=True)
class Token(TokenFacts):
    """A bootstrap token as the API shows it: never its value (except once, at creation) nor its hash."""

    state: str  # active, expired, exhausted or revoked


@dataclass(frozen=True)
class CreatedToken(Token):
    """The answer to creating a bootstrap token: the only time its value is shown (it is stored as sha256)."""

    token: str


@dataclass(frozen=True)
class Problem:
    """An RFC 9457 problem+json answer as a client reads it; `slug` is the last part of `type` ("" when absent)."""

    status: int
    title: str
    detail: str
    slug: str
    body: dict[str, Any]

    @property
    def message(self) -> str:
        return f"{self.status} {self.title}" + (f": {self.detail}" if self.detail else "")


def parse_problem(status: int, body: object, reason: str = "") -> Problem:
    """Any error answer as a Problem: a problem+json body, another JSON value, or nothing usable (`body` None)."""
    data = body if isinstance(body, dict) else {}
    kind = data.get("type")
    slug = kind.removeprefix(PROBLEM_PREFIX) if isinstance(kind, str) and kind.startswith(PROBLEM_PREFIX) else ""
    title = data.get("title")
    detail = data.get("detail")
    title = title if isinstance(title, str) else ""
    detail = detail if isinstance(detail, str) else ""
    if not detail and body is not None and not isinstance(body, dict):
        detail = str(body)[:200]
    return Problem(status, title or reason or "error", detail, slug, data)
