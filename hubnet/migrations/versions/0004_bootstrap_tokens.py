"""bootstrap_tokens: registration tokens managed at run time, stored only as sha256, with expiry and max uses.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bootstrap_tokens",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("description", sa.String(255), nullable=False, server_default=""),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float),
        sa.Column("max_uses", sa.Integer),
        sa.Column("uses", sa.Integer, nullable=False, server_default="0"),
        sa.Column("revoked_at", sa.Float),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bootstrap_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_bootstrap_tokens_token_hash")),
        sa.CheckConstraint("max_uses IS NULL OR uses <= max_uses", name=op.f("ck_bootstrap_tokens_uses_within_max")),
    )


def downgrade() -> None:
    op.drop_table("bootstrap_tokens")
