"""recent audit entries, archived in bulk

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30

New entries go to ``audit_recent``, which has no index but its key, and move in bulk
into the indexed ``audit_entries`` (``atalaya.audit.models``). The head records the
last sequence archived; every entry already written is in the archive. A trigger
refuses updates of recent entries, as the archive's refuse updates and deletes;
deletes are the move's.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from atalaya.db import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_recent",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_username", sa.String(length=64), nullable=True),
        sa.Column("agency_code", sa.String(length=32), nullable=True),
        sa.Column("area_path", sa.String(length=200), nullable=True),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("peer_node", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=True),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_recent")),
    )
    # Plain ADD COLUMN, not a batch: recreating audit_head is harmless, but a batch on
    # SQLite would be the wrong habit beside tables that keep triggers.
    op.add_column(
        "audit_head",
        sa.Column("archived_seq", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.execute("UPDATE audit_head SET archived_seq = seq")
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER audit_recent_no_update BEFORE UPDATE ON audit_recent "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )
    else:
        # The function of migration 0001, which raises the same message.
        op.execute(
            "CREATE TRIGGER audit_recent_append_only BEFORE UPDATE OR TRUNCATE "
            "ON audit_recent FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only()"
        )


def downgrade() -> None:
    # Recent entries go to the archive first, so that the log loses nothing.
    op.execute(
        "INSERT INTO audit_entries (seq, at, actor_type, actor_user_id, actor_username, "
        "agency_code, area_path, token_id, peer_node, action, object_type, object_id, "
        "request_id, client_address, outcome, detail, prev_hash, hash) "
        "SELECT seq, at, actor_type, actor_user_id, actor_username, agency_code, area_path, "
        "token_id, peer_node, action, object_type, object_id, request_id, client_address, "
        "outcome, detail, prev_hash, hash FROM audit_recent ORDER BY seq"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_recent_append_only ON audit_recent")
    op.drop_table("audit_recent")
    op.drop_column("audit_head", "archived_seq")
