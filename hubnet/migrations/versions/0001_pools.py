"""pools: the cluster CIDRs subnets are carved from, with each pool's high-water mark.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hubnet.server.db.models import Inet

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pools",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cidr", Inet, nullable=False),
        sa.Column("node_prefix", sa.Integer, nullable=False),
        sa.Column("high_water", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pools")),
        sa.UniqueConstraint("cidr", name=op.f("uq_pools_cidr")),
    )


def downgrade() -> None:
    op.drop_table("pools")
