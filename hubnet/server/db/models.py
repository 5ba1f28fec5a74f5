"""SQLAlchemy 2 tables. The schema itself enforces the invariants (unique names, non-overlapping subnets).

Subnets and addresses are `inet` on PostgreSQL (so `EXCLUDE USING gist (subnet inet_ops WITH &&)` can forbid
overlaps) and text on SQLite (a partial unique index on the subnet, plus the range columns that the allocator's
overlap check searches: net_lo/net_hi integers for IPv4, net6_lo/net6_hi fixed-width hex for IPv6; allocation is
serialized by BEGIN IMMEDIATE). One column set per family (docs/dual-stack.md, migration 0009).
Times are UNIX epoch seconds (float): portable and cheap to compare.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


class Inet(TypeDecorator[str]):
    """`inet` on PostgreSQL, text elsewhere; always a str in Python (psycopg would hand back ipaddress objects)."""

    impl = String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.INET())
        return dialect.type_descriptor(String(64))

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value)


NOT_RELEASED = text("state <> 'released'")
WITHDRAWING = text("route_state = 'withdrawing'")
UNVETTED = text("NOT vetted AND state <> 'released'")

pools = Table(
    "pools",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("cidr", Inet, nullable=False, unique=True),
    Column("node_prefix", Integer, nullable=False),
    Column("high_water", Integer, nullable=False, server_default="0"),
    # Live subnets of the pool, both families: kept by triggers (hubnet.server.db.counts, migration 0012).
    Column("allocated", Integer, nullable=False, server_default="0"),
    Column("created_at", Float, nullable=False),
)

nodes = Table(
    "nodes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("address", Inet),
    Column("machine_id", String(255)),
    Column("subnet", Inet),
    Column("pool_id", Integer, ForeignKey("pools.id")),
    Column("state", String(16), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("released_at", Float),
    # True once a released node's subnet went to someone else: that row can no longer reclaim it.
    Column("reissued", Boolean, nullable=False, server_default=text("false")),
    Column("route_state", String(16), nullable=False, server_default="pending"),
    Column("route_error", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # The subnet's first and last address as integers (db.ranges): SQLite's overlap check (migration 0005).
    Column("net_lo", BigInteger),
    Column("net_hi", BigInteger),
    # The IPv6 column set (migration 0009). SQLite has no 128-bit integer: net6_lo/net6_hi are the first and last
    # address as 32 lowercase hex digits, whose text order is numeric order (db.ranges).
    Column("address6", Inet),
    Column("subnet6", Inet),
    Column("pool6_id", Integer, ForeignKey("pools.id")),
    Column("reissued6", Boolean, nullable=False, server_default=text("false")),
    Column("net6_lo", String(32)),
    Column("net6_hi", String(32)),
    # False once the row changed behind the controller's back (hubnet.server.db.counts): checked for flags.
    Column("vetted", Boolean, nullable=False, server_default=text("false")),
    CheckConstraint("subnet IS NOT NULL OR subnet6 IS NOT NULL", name="has_subnet"),
    Index("ix_nodes_secret_hash", "secret_hash"),
    Index("ix_nodes_state_expires_at", "state", "expires_at"),
    Index("ix_nodes_pool_id_reuse", "pool_id", "state", "reissued", "released_at"),
    Index("ix_nodes_subnet", "subnet"),
    Index(
        "uq_nodes_address_live",
        "address",
        unique=True,
        sqlite_where=NOT_RELEASED,
        postgresql_where=NOT_RELEASED,
    ),
    Index("uq_nodes_subnet_live", "subnet", unique=True, sqlite_where=NOT_RELEASED, postgresql_where=NOT_RELEASED),
    Index("ix_nodes_net_lo_live", "net_lo", "net_hi", sqlite_where=NOT_RELEASED, postgresql_where=NOT_RELEASED),
    Index("ix_nodes_pool6_id_reuse", "pool6_id", "state", "reissued6", "released_at"),
    Index("ix_nodes_subnet6", "subnet6"),
    Index("uq_nodes_address6_live", "address6", unique=True, sqlite_where=NOT_RELEASED, postgresql_where=NOT_RELEASED),
    Index("uq_nodes_subnet6_live", "subnet6", unique=True, sqlite_where=NOT_RELEASED, postgresql_where=NOT_RELEASED),
    Index("ix_nodes_net6_lo_live", "net6_lo", "net6_hi", sqlite_where=NOT_RELEASED, postgresql_where=NOT_RELEASED),
    # Released records whose route is not yet seen gone (migration 0011c): the reconciler asks after every run.
    Index("ix_nodes_withdrawing", "id", sqlite_where=WITHDRAWING, postgresql_where=WITHDRAWING),
    # Live rows not yet checked (migration 0012): `GET /v1/pools` computes their flags.
    Index("ix_nodes_unvetted", "id", sqlite_where=UNVETTED, postgresql_where=UNVETTED),
)

# Rows per lease state, kept by triggers (hubnet.server.db.counts, migration 0012): /metrics reads three rows.
node_state_counts = Table(
    "node_state_counts",
    metadata,
    Column("state", String(16), primary_key=True),
    Column("n", BigInteger, nullable=False),
)

# PostgreSQL additionally forbids *overlapping* live subnets (created in the migration, see 0002):
#   ALTER TABLE nodes ADD CONSTRAINT ex_nodes_subnet_overlap
#     EXCLUDE USING gist (subnet inet_ops WITH &&) WHERE (state <> 'released')
# and the same on subnet6 (ex_nodes_subnet6_overlap, migration 0009). SQLite does it with triggers (migration 0011b,
# hubnet.server.db.overlap_guard).

events = Table(
    "events",
    metadata,
    Column("revision", BigInteger, primary_key=True, autoincrement=False),
    Column("created_at", Float, nullable=False),
    Column("type", String(32), nullable=False),
    Column("node", String(63)),
    Column("data", Text, nullable=False),
)

# One row holding the last revision. Bumping it row-locks, so revisions are handed out in commit order:
# a watcher reading `since=N` never misses a smaller revision that commits later.
revision_counter = Table(
    "revision_counter",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Bootstrap tokens created at run time (POST /v1/tokens); tokens from HUBNET_BOOTSTRAP_TOKENS never reach the table.
# Only the sha256 of a token is stored. `uses` counts registrations that created a node; the CHECK is the backstop
# of the conditional increment in hubnet.server.db.tokens.
bootstrap_tokens = Table(
    "bootstrap_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("description", String(255), nullable=False, server_default=""),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float),
    Column("max_uses", Integer),
    Column("uses", Integer, nullable=False, server_default="0"),
    Column("revoked_at", Float),
    CheckConstraint("max_uses IS NULL OR uses <= max_uses", name="uses_within_max"),
)

# One row: when a controller process was last known alive (every reaper pass stamps it; NULL until the first start
# after migration 0007). A starting controller gives the live leases back the time no controller ran
# (hubnet.server.services.reaper.resume_leases), so the lease clock stops only while no controller runs.
controller_clock = Table(
    "controller_clock",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alive_at", Float),
)

# BGP peers (POST /v1/bgp/peers, docs/bgp.md): every controller process configures the same ones on its speaker.
# `address` is canonical text (IPv6 compressed, lower case; `fe80::1%eth0` keeps its zone, which `inet` cannot hold),
# so the unique index is what makes a second peer with the same address impossible, also between processes.
# `password` is the TCP MD5 key in plain text: the speaker needs it; the API never returns it, nothing logs it.
bgp_peers = Table(
    "bgp_peers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("address", String(64), nullable=False, unique=True),
    Column("asn", BigInteger, nullable=False),
    Column("password", String(80)),
    Column("multihop", Integer),
    Column("description", String(200), nullable=False, server_default=""),
    Column("created_at", Float, nullable=False),
    CheckConstraint("asn BETWEEN 1 AND 4294967295", name="asn_range"),
    CheckConstraint("multihop IS NULL OR multihop BETWEEN 1 AND 255", name="multihop_range"),
)

# Router agents (`hubnet router join`, docs/api.md "Routers"): each follows the route feed, programs its own kernel
# table and reports what it holds. Only the sha256 of a router's secret is stored. `status`: syncing | up | down
# (hubnet.server.domain.routerstate); only `up` routers count in a node's aggregate `route_state`.
routers = Table(
    "routers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_report_at", Float),
    Column("synced_at", Float),
    Column("status", String(16), nullable=False, server_default="syncing"),
    Column("route_count", Integer, nullable=False, server_default="0"),
    Column("missing", Integer, nullable=False, server_default="0"),
    Column("unexpected", Integer, nullable=False, server_default="0"),
    Column("foreign", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("applied_revision", BigInteger),
    CheckConstraint("status IN ('syncing', 'up', 'down')", name="status"),
    Index("ix_routers_secret_hash", "secret_hash"),
)

# Each router's state for a node: only meaningful for the node's current `generation` (an older one reads as
# pending). Rows go with their router or node (ON DELETE CASCADE); a re-join that moves a node's routes without a new
# generation (an address change) deletes the node's rows.
router_routes = Table(
    "router_routes",
    metadata,
    Column("router_id", Integer, ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True),
    Column("node_id", Integer, ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True),
    Column("generation", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("error", Text),
    Column("updated_at", Float, nullable=False),
    Index("ix_router_routes_node_id", "node_id"),
)
