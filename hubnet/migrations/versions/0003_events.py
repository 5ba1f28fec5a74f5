"""events: the append-only log, and the counter that hands out revisions in commit order.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("revision", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("node", sa.String(63)),
        sa.Column("data", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("revision", name=op.f("pk_events")),
    )
    counter = op.create_table(
        "revision_counter",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revision_counter")),
    )
    op.bulk_insert(counter, [{"id": 1, "value": 0}])


def downgrade() -> None:
    op.drop_table("revision_counter")
    op.drop_table("events")
