"""fewer audit indexes

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30

Every index of ``audit_entries`` is paid for on every append, and every read of
personal data appends. Dropped: ``agency_code`` (no query filters on it),
``area_path`` (matched by prefix with an escape, which neither engine serves from a
B-tree), ``object_type`` alone and ``token_id`` alone. Added: ``(object_type,
object_id)``, for "who touched this object", and ``(token_id, at)``, for a token's last
use. Plain operations, not a batch: recreating the table would drop its append-only
triggers.
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for name in ("agency_code", "area_path", "object_type", "token_id"):
        op.drop_index(f"ix_audit_entries_{name}", table_name="audit_entries")
    op.create_index("ix_audit_entries_object", "audit_entries", ["object_type", "object_id"])
    op.create_index("ix_audit_entries_token_at", "audit_entries", ["token_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_entries_token_at", table_name="audit_entries")
    op.drop_index("ix_audit_entries_object", table_name="audit_entries")
    for name in ("agency_code", "area_path", "object_type", "token_id"):
        op.create_index(f"ix_audit_entries_{name}", "audit_entries", [name])
