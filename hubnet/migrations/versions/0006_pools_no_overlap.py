"""pools: PostgreSQL forbids overlapping pools in the schema (two controller processes adding pools at once).

The use case checks for overlaps under the pool row locks, but a pool inserted by another transaction is not in
the locked rows it read (READ COMMITTED), and with no pool yet there is nothing to lock. The exclusion constraint
makes the second insert fail; the retry on fresh data then answers 409 pool-overlaps. SQLite needs nothing:
BEGIN IMMEDIATE serializes the whole check-and-insert.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE pools ADD CONSTRAINT ex_pools_cidr_overlap EXCLUDE USING gist (cidr inet_ops WITH &&)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE pools DROP CONSTRAINT ex_pools_cidr_overlap")
