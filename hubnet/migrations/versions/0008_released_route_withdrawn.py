"""Released records say `route_state = withdrawn`: their route is no longer desired, so `programmed` misled.

Data only. Downgrade leaves the rows as they are: `withdrawn` is a plain string to the older code, which never
reads the route state of a released record.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE nodes SET route_state = 'withdrawn', route_error = NULL "
        "WHERE state = 'released' AND route_state <> 'withdrawn'"
    )


def downgrade() -> None:
    pass
