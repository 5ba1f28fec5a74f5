"""bgp_peers: the BGP peers of the `bgp` route backend, shared by every controller process (docs/bgp.md).

The address is canonical text on both databases (PostgreSQL's `inet` cannot hold the zone of a link-local peer,
`fe80::1%eth0`); its unique constraint is what refuses a second peer with the same address, also when two
controller processes add it at the same moment. The CHECKs repeat the ASN and TTL ranges that the API enforces.
A plain new table: the same DDL on SQLite and PostgreSQL, and downgrade drops it (with the peers in it).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bgp_peers",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("asn", sa.BigInteger, nullable=False),
        sa.Column("password", sa.String(80)),
        sa.Column("multihop", sa.Integer),
        sa.Column("description", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bgp_peers")),
        sa.UniqueConstraint("address", name=op.f("uq_bgp_peers_address")),
        sa.CheckConstraint("asn BETWEEN 1 AND 4294967295", name=op.f("ck_bgp_peers_asn_range")),
        sa.CheckConstraint("multihop IS NULL OR multihop BETWEEN 1 AND 255", name=op.f("ck_bgp_peers_multihop_range")),
    )


def downgrade() -> None:
    op.drop_table("bgp_peers")
