"""person name keys: word pairs, keyed storage

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

Person search looked candidates up by single sound keys, which among a million people
return tens of thousands of rows for a common surname. The keys now include each pair
of a name's sound keys, and the table is keyed by (key, involvement) so a lookup reads
one run of the index (SQLite: WITHOUT ROWID). The keys are rebuilt from the persons.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from atalaya.matching.names import keys, sounds

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    op.drop_table("person_name_keys")
    table = op.create_table(
        "person_name_keys",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("involvement_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["involvement_id"],
            ["involvements.id"],
            name=op.f("fk_person_name_keys_involvement_id_involvements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", "involvement_id", name=op.f("pk_person_name_keys")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_person_name_keys_involvement_id"),
        "person_name_keys",
        ["involvement_id"],
        unique=False,
    )
    _rebuild(table)


def _rebuild(table: sa.Table, *, pairs: bool = True) -> None:
    bind = op.get_bind()
    persons = bind.execute(sa.text("SELECT id, given_names, surnames FROM involvements"))
    rows: list[dict[str, object]] = []
    for involvement_id, given, surnames in persons:
        found = keys(given, surnames) if pairs else sounds(given, surnames)
        rows += [{"key": k, "involvement_id": involvement_id} for k in found]
        if len(rows) >= BATCH:
            bind.execute(table.insert(), rows)
            rows = []
    if rows:
        bind.execute(table.insert(), rows)


def downgrade() -> None:
    op.drop_table("person_name_keys")
    table = op.create_table(
        "person_name_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("involvement_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["involvement_id"],
            ["involvements.id"],
            name=op.f("fk_person_name_keys_involvement_id_involvements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_name_keys")),
    )
    op.create_index(
        op.f("ix_person_name_keys_involvement_id"), "person_name_keys", ["involvement_id"]
    )
    op.create_index(op.f("ix_person_name_keys_key"), "person_name_keys", ["key"])
    _rebuild(table, pairs=False)
