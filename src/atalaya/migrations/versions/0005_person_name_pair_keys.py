"""person name keys: pairs and threes of words, with who may see them

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

Person search looked candidates up by single sound keys, which among a million people
return hundreds of thousands of rows for a common surname. The keys now include each
pair and each three of a name's sound keys; the table is keyed by (key, involvement)
so a lookup reads one run of the index (SQLite: WITHOUT ROWID; PostgreSQL: the copied
columns INCLUDEd in the index), and carries the incident's area, agency and
restriction so that visibility is decided without a join. Rebuilt from the persons.
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
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("involvement_id", sa.Integer(), nullable=False),
        sa.Column("area_path", sa.String(length=200), nullable=False),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["involvement_id"],
            ["involvements.id"],
            name=op.f("fk_person_name_keys_involvement_id_involvements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "key",
            "involvement_id",
            name=op.f("pk_person_name_keys"),
            postgresql_include=["area_path", "restricted", "agency_id"],
        ),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_person_name_keys_involvement_id"),
        "person_name_keys",
        ["involvement_id"],
        unique=False,
    )
    _rebuild(table)


def _rebuild(table: sa.Table) -> None:
    bind = op.get_bind()
    persons = bind.execute(
        sa.text(
            "SELECT p.id, p.given_names, p.surnames, i.area_path, i.restricted, i.agency_id "
            "FROM involvements p JOIN incidents i ON i.id = p.incident_id"
        )
    )
    rows: list[dict[str, object]] = []
    for involvement_id, given, surnames, area_path, restricted, agency_id in persons:
        rows += [
            {
                "key": k,
                "involvement_id": involvement_id,
                "area_path": area_path,
                "restricted": bool(restricted),
                "agency_id": agency_id,
            }
            for k in keys(given, surnames)
        ]
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
    bind = op.get_bind()
    persons = bind.execute(sa.text("SELECT id, given_names, surnames FROM involvements"))
    rows = [
        {"involvement_id": involvement_id, "key": k}
        for involvement_id, given, surnames in persons
        for k in sounds(given, surnames)
    ]
    if rows:
        bind.execute(table.insert(), rows)
