"""Counts kept by the database: `pools.allocated`, `node_state_counts`, and `nodes.vetted` (issue 14).

`GET /v1/pools`, `/metrics` and `/readyz` counted every node per call; they now read the counters triggers keep
in the writing transaction (hubnet.server.db.counts), on SQLite and PostgreSQL. Data: the counters are filled from
a real COUNT; every existing row starts unvetted (the controller's start-up scan checks them all once and vets the
well-formed ones). Downgrade drops the triggers, the table, the columns and the index.

Revision ID: 0012_pool_counts
Revises: 0011c_route_withdrawal
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hubnet.server.db.counts import BACKFILL, create_statements, drop_statements

revision = "0012_pool_counts"
down_revision = "0011c_route_withdrawal"
branch_labels = None
depends_on = None

UNVETTED = sa.text("NOT vetted AND state <> 'released'")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("pools", sa.Column("allocated", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("nodes", sa.Column("vetted", sa.Boolean(), nullable=False, server_default=sa.text("false")))
    op.create_table(
        "node_state_counts",
        sa.Column("state", sa.String(16), primary_key=True),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_nodes_unvetted", "nodes", ["id"], sqlite_where=UNVETTED, postgresql_where=UNVETTED)
    for statement in BACKFILL:
        op.execute(statement)
    for statement in create_statements(dialect):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in drop_statements(dialect):
        op.execute(statement)
    op.drop_index("ix_nodes_unvetted", table_name="nodes")
    op.drop_table("node_state_counts")
    # SQLite: plain ALTER TABLE DROP COLUMN (3.35+); a batch rebuild would drop the overlap guard's triggers.
    op.drop_column("nodes", "vetted")
    op.drop_column("pools", "allocated")
