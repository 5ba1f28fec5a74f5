"""routers, router_routes: router agents and each one's route state per node (issue 11, agent mode).

A router agent joins with a bootstrap token and its own secret (only the sha256 is kept), follows the route feed
and reports what its kernel table holds. `router_routes` keeps each router's state per node for the generation it
was reported for; a node's `route_state` stays the stored aggregate over the `up` routers. Two plain new tables: the
same DDL on SQLite and PostgreSQL (the foreign keys cascade on both: the engine turns SQLite's foreign keys on), and
downgrade drops them with their rows.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routers",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_report_at", sa.Float),
        sa.Column("synced_at", sa.Float),
        sa.Column("status", sa.String(16), nullable=False, server_default="syncing"),
        sa.Column("route_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("missing", sa.Integer, nullable=False, server_default="0"),
        sa.Column("unexpected", sa.Integer, nullable=False, server_default="0"),
        sa.Column("foreign", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("applied_revision", sa.BigInteger),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routers")),
        sa.UniqueConstraint("name", name=op.f("uq_routers_name")),
        sa.CheckConstraint("status IN ('syncing', 'up', 'down')", name=op.f("ck_routers_status")),
    )
    op.create_index("ix_routers_secret_hash", "routers", ["secret_hash"])
    op.create_table(
        "router_routes",
        sa.Column("router_id", sa.Integer, nullable=False),
        sa.Column("node_id", sa.Integer, nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("router_id", "node_id", name=op.f("pk_router_routes")),
        sa.ForeignKeyConstraint(
            ["router_id"], ["routers.id"], name=op.f("fk_router_routes_router_id_routers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_router_routes_node_id_nodes"), ondelete="CASCADE"
        ),
    )
    op.create_index("ix_router_routes_node_id", "router_routes", ["node_id"])


def downgrade() -> None:
    op.drop_table("router_routes")
    op.drop_table("routers")
