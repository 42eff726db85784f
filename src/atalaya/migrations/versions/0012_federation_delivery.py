"""federation delivery: per-peer delivery state (circuit breaker, lease) and queue index

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30

``federation_peer_delivery`` holds, per peer, what every delivery worker process must
share: consecutive failures and the breaker's open-until time, the last success and
failure, and the lease a worker holds while it works through the peer's queue. The
outbox gains an index on ``(peer_id, status, id)``: a peer's pending rows in order.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import atalaya.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federation_peer_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("open_until", atalaya.db.UTCDateTime(), nullable=True),
        sa.Column("last_success_at", atalaya.db.UTCDateTime(), nullable=True),
        sa.Column("last_failure_at", atalaya.db.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("lease_holder", sa.String(length=64), nullable=True),
        sa.Column("lease_until", atalaya.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["federation_peers.id"],
            name=op.f("fk_federation_peer_delivery_peer_id_federation_peers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_peer_delivery")),
        sa.UniqueConstraint("peer_id", name=op.f("uq_federation_peer_delivery_peer_id")),
    )
    with op.batch_alter_table("federation_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_federation_outbox_queue", ["peer_id", "status", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("federation_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_federation_outbox_queue")
    op.drop_table("federation_peer_delivery")
