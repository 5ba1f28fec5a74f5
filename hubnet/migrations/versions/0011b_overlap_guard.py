"""SQLite refuses overlapping live subnets in the schema too (PostgreSQL's exclusion constraints already do).

Triggers on `nodes` (hubnet.server.db.overlap_guard): a live row whose subnet (either family) overlaps another live
row's is refused, whoever writes it; the range columns are set from the subnet's text on every write, so they cannot
be left out or be wrong. Existing rows get their ranges recomputed from their text; overlaps already stored are not
refused retroactively (the integrity check reports them, and a stale node among them may still renew its lease).
PostgreSQL: nothing to do. Downgrade drops the triggers.

Revision ID: 0011b_overlap_guard
Revises: 0011
"""

from __future__ import annotations

from alembic import op

from hubnet.server.db.overlap_guard import create_statements, drop_statements

revision = "0011b_overlap_guard"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in create_statements(fast=False):
        op.execute(statement)
    # Rewriting the text fires the range trigger (a claim is only checked when the text changes: it does not here).
    op.execute("UPDATE nodes SET subnet = subnet, subnet6 = subnet6")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in drop_statements():
        op.execute(statement)
