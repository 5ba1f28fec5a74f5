"""SQLite's overlap guard checks a supplied IPv4 range instead of parsing the subnet text (issue 14).

The triggers of 0011b parsed every written row's subnet in SQL and then rewrote the row's range columns: a third
of a registration's time on SQLite. They are replaced by ones that accept net_lo/net_hi when the text is exactly
their canonical spelling (hubnet.server.db.overlap_guard.supplied_v4) and otherwise do what 0011b's did, so every
stored range still matches its text. PostgreSQL: nothing to do. Downgrade puts 0011b's triggers back.

Revision ID: 0013_overlap_guard_checks
Revises: 0012_pool_counts
"""

from __future__ import annotations

from alembic import op

from hubnet.server.db.overlap_guard import create_statements, drop_statements

revision = "0013_overlap_guard_checks"
down_revision = "0012_pool_counts"
branch_labels = None
depends_on = None


def _replace(*, fast: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in [*drop_statements(), *create_statements(fast=fast)]:
        op.execute(statement)


def upgrade() -> None:
    _replace(fast=True)


def downgrade() -> None:
    _replace(fast=False)
