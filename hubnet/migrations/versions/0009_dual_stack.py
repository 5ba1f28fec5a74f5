"""nodes: one column set per address family (docs/dual-stack.md). The IPv6 set is address6, subnet6, pool6_id,
reissued6 and net6_lo/net6_hi (the range as 32 lowercase hex digits: SQLite has no 128-bit integer, and fixed-width
hex sorts like the number); address and subnet become nullable (an IPv6-only node has neither), a CHECK wants at
least one subnet. The invariants of IPv4 are repeated for IPv6: partial unique indexes on the live address6 and
subnet6, the live range index, and on PostgreSQL an exclusion constraint forbidding overlapping live subnet6.

SQLite cannot drop NOT NULL in place: the table is rebuilt (create, copy, drop, rename) and every index is created
again by name, partial ones included (alembic's batch mode would lose their WHERE). Downgrade refuses while any row
holds IPv6 data or lacks an IPv4 subnet: the old schema cannot represent it, and dropping it would lose subnets.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

from hubnet.server.db.models import Inet
from hubnet.server.db.ranges import backfill_all

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

LIVE = sa.text("state <> 'released'")
_V6_COLUMNS = ("address6", "subnet6", "pool6_id", "reissued6", "net6_lo", "net6_hi")
_OLD_COLUMNS = (
    "id, name, address, machine_id, subnet, pool_id, state, generation, secret_hash, expires_at, released_at, "
    "reissued, route_state, route_error, created_at, updated_at, net_lo, net_hi"
)


def _v6_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("address6", Inet),
        sa.Column("subnet6", Inet),
        sa.Column("pool6_id", sa.Integer),
        sa.Column("reissued6", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("net6_lo", sa.String(32)),
        sa.Column("net6_hi", sa.String(32)),
    ]


def _nodes_table(*, dual: bool) -> list[SchemaItem]:
    """The nodes table as 0008 left it (dual=False) or as 0009 wants it, for a SQLite rebuild."""
    items: list[SchemaItem] = [
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("address", Inet, nullable=dual),
        sa.Column("machine_id", sa.String(255)),
        sa.Column("subnet", Inet, nullable=dual),
        sa.Column("pool_id", sa.Integer),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("released_at", sa.Float),
        sa.Column("reissued", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("route_state", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("route_error", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("net_lo", sa.BigInteger),
        sa.Column("net_hi", sa.BigInteger),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nodes")),
        sa.UniqueConstraint("name", name=op.f("uq_nodes_name")),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_nodes_pool_id_pools")),
    ]
    if dual:
        items += [
            *_v6_columns(),
            sa.ForeignKeyConstraint(["pool6_id"], ["pools.id"], name=op.f("fk_nodes_pool6_id_pools")),
            sa.CheckConstraint("subnet IS NOT NULL OR subnet6 IS NOT NULL", name=op.f("ck_nodes_has_subnet")),
        ]
    return items


def _ipv4_indexes() -> None:
    """Every index of nodes up to 0008 (0002, 0005)."""
    op.create_index("ix_nodes_secret_hash", "nodes", ["secret_hash"])
    op.create_index("ix_nodes_state_expires_at", "nodes", ["state", "expires_at"])
    op.create_index("ix_nodes_pool_id_reuse", "nodes", ["pool_id", "state", "reissued", "released_at"])
    op.create_index("ix_nodes_subnet", "nodes", ["subnet"])
    for column in ("address", "subnet"):
        op.create_index(
            f"uq_nodes_{column}_live", "nodes", [column], unique=True, sqlite_where=LIVE, postgresql_where=LIVE
        )
    op.create_index("ix_nodes_net_lo_live", "nodes", ["net_lo", "net_hi"], sqlite_where=LIVE, postgresql_where=LIVE)


def _ipv6_indexes() -> None:
    op.create_index("ix_nodes_pool6_id_reuse", "nodes", ["pool6_id", "state", "reissued6", "released_at"])
    op.create_index("ix_nodes_subnet6", "nodes", ["subnet6"])
    for column in ("address6", "subnet6"):
        op.create_index(
            f"uq_nodes_{column}_live", "nodes", [column], unique=True, sqlite_where=LIVE, postgresql_where=LIVE
        )
    op.create_index("ix_nodes_net6_lo_live", "nodes", ["net6_lo", "net6_hi"], sqlite_where=LIVE, postgresql_where=LIVE)


def _rebuild_sqlite(*, dual: bool, columns: str, indexes: Callable[[], None]) -> None:
    op.create_table("nodes_0009", *_nodes_table(dual=dual))
    op.execute(f"INSERT INTO nodes_0009 ({columns}) SELECT {columns} FROM nodes")
    op.drop_table("nodes")
    op.rename_table("nodes_0009", "nodes")
    indexes()


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":

        def both() -> None:
            _ipv4_indexes()
            _ipv6_indexes()

        _rebuild_sqlite(dual=True, columns=_OLD_COLUMNS, indexes=both)
    else:
        for column in _v6_columns():
            op.add_column("nodes", column)
        op.create_foreign_key(op.f("fk_nodes_pool6_id_pools"), "nodes", "pools", ["pool6_id"], ["id"])
        op.alter_column("nodes", "address", nullable=True)
        op.alter_column("nodes", "subnet", nullable=True)
        op.create_check_constraint(op.f("ck_nodes_has_subnet"), "nodes", "subnet IS NOT NULL OR subnet6 IS NOT NULL")
        _ipv6_indexes()
        op.execute(
            "ALTER TABLE nodes ADD CONSTRAINT ex_nodes_subnet6_overlap "
            "EXCLUDE USING gist (subnet6 inet_ops WITH &&) WHERE (state <> 'released')"
        )
    backfill_all(op.get_bind())


def downgrade() -> None:
    bind = op.get_bind()
    blocking = bind.execute(
        sa.text(
            "SELECT count(*) FROM nodes WHERE subnet6 IS NOT NULL OR address6 IS NOT NULL "
            "OR subnet IS NULL OR address IS NULL"
        )
    ).scalar_one()
    if blocking:
        raise RuntimeError(
            f"cannot downgrade below 0009: {blocking} node row(s) hold an IPv6 subnet or address, or no IPv4 one, "
            "which the older schema cannot store; delete those nodes (DELETE /v1/nodes/<name>, then remove the "
            "released rows) first"
        )
    if bind.dialect.name == "sqlite":
        _rebuild_sqlite(dual=False, columns=_OLD_COLUMNS, indexes=_ipv4_indexes)
        return
    op.execute("ALTER TABLE nodes DROP CONSTRAINT ex_nodes_subnet6_overlap")
    for index in ("ix_nodes_net6_lo_live", "uq_nodes_subnet6_live", "uq_nodes_address6_live", "ix_nodes_subnet6"):
        op.drop_index(index, "nodes")
    op.drop_index("ix_nodes_pool6_id_reuse", "nodes")
    op.drop_constraint(op.f("ck_nodes_has_subnet"), "nodes", type_="check")
    op.alter_column("nodes", "subnet", nullable=False)
    op.alter_column("nodes", "address", nullable=False)
    op.drop_constraint(op.f("fk_nodes_pool6_id_pools"), "nodes", type_="foreignkey")
    for column in reversed(_V6_COLUMNS):
        op.drop_column("nodes", column)
