"""`route_state = withdrawing`: a released record whose route may still be on a router (issue 17 item 6).

A release (delete, lease expiry) of a record whose route was reported on now says `withdrawing`; the embedded
reconciler (hubnet.server.services.routes) or, in agent mode, the router agents' reports
(hubnet.server.services.routers.confirm_withdrawals) set `withdrawn` once the route is gone, and only then may the
subnet go to another node. This adds the partial index the question "who is still withdrawing?" is answered from
(empty nearly always). Data: none; released rows stay `withdrawn`. Downgrade: the index goes, and `withdrawing`
rows become `withdrawn` (older code never waits).

Revision ID: 0011c_route_withdrawal
Revises: 0011b_overlap_guard
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011c_route_withdrawal"
down_revision = "0011b_overlap_guard"
branch_labels = None
depends_on = None

WITHDRAWING = sa.text("route_state = 'withdrawing'")


def upgrade() -> None:
    op.create_index("ix_nodes_withdrawing", "nodes", ["id"], sqlite_where=WITHDRAWING, postgresql_where=WITHDRAWING)


def downgrade() -> None:
    op.drop_index("ix_nodes_withdrawing", "nodes")
    op.execute("UPDATE nodes SET route_state = 'withdrawn' WHERE route_state = 'withdrawing'")
