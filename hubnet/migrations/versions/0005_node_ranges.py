"""nodes.net_lo / net_hi: a subnet's first and last address as integers, so SQLite can refuse *overlapping* live
subnets with an index range query (PostgreSQL does it with inet && and the exclusion constraint; SQLite has no
inet type, and text equality missed a live legacy 10.244.0.0/23 when handing out 10.244.0.0/24).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hubnet.server.db.ranges import backfill_ranges

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

LIVE = sa.text("state <> 'released'")


def upgrade() -> None:
    op.add_column("nodes", sa.Column("net_lo", sa.BigInteger))
    op.add_column("nodes", sa.Column("net_hi", sa.BigInteger))
    op.create_index("ix_nodes_net_lo_live", "nodes", ["net_lo", "net_hi"], sqlite_where=LIVE, postgresql_where=LIVE)
    backfill_ranges(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_nodes_net_lo_live", "nodes")
    # Plain ALTER TABLE DROP COLUMN (SQLite >= 3.35): a batch copy of the table would not keep its partial indexes.
    for column in ("net_hi", "net_lo"):
        op.execute(f"ALTER TABLE nodes DROP COLUMN {column}")
