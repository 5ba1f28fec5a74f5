"""controller_clock: when a controller was last known alive, so the lease clock stops only while none runs.

At start-up a controller used to give every expired lease a fresh TTL. A controller that crash-looped faster than
TTL + grace then never released a dead node, and restarting one of several controller processes extended leases
although another one had been running all along. Every reaper pass now stamps `alive_at`; a starting controller
shifts the live leases by the time no controller ran (and by nothing when one was alive). The single row starts
NULL: the first start after this upgrade keeps the old one-TTL behaviour once.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    clock = op.create_table(
        "controller_clock",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("alive_at", sa.Float),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_controller_clock")),
    )
    op.bulk_insert(clock, [{"id": 1, "alive_at": None}])


def downgrade() -> None:
    op.drop_table("controller_clock")
