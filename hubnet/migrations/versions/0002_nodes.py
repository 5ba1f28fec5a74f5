"""nodes: one row per node; the database forbids duplicate names, live addresses and overlapping live subnets.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hubnet.server.db.models import Inet

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LIVE = sa.text("state <> 'released'")


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("address", Inet, nullable=False),
        sa.Column("machine_id", sa.String(255)),
        sa.Column("subnet", Inet, nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nodes")),
        sa.UniqueConstraint("name", name=op.f("uq_nodes_name")),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_nodes_pool_id_pools")),
    )
    op.create_index("ix_nodes_secret_hash", "nodes", ["secret_hash"])
    op.create_index("ix_nodes_state_expires_at", "nodes", ["state", "expires_at"])
    op.create_index("ix_nodes_pool_id_reuse", "nodes", ["pool_id", "state", "reissued", "released_at"])
    op.create_index("ix_nodes_subnet", "nodes", ["subnet"])
    for column in ("address", "subnet"):
        op.create_index(
            f"uq_nodes_{column}_live", "nodes", [column], unique=True, sqlite_where=LIVE, postgresql_where=LIVE
        )
    if op.get_bind().dialect.name == "postgresql":
        # inet_ops is PostgreSQL's built-in gist operator class for inet: no extension needed.
        op.execute(
            "ALTER TABLE nodes ADD CONSTRAINT ex_nodes_subnet_overlap "
            "EXCLUDE USING gist (subnet inet_ops WITH &&) WHERE (state <> 'released')"
        )


def downgrade() -> None:
    op.drop_table("nodes")
