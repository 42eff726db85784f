"""credential epoch

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30

A one-row counter, ``credential_epoch``, that triggers bump on every change that could
change who holds a token: tokens updated or deleted, users' names, agencies, languages
or status, their roles, agencies' codes, levels and areas, areas' codes and paths. A
process keeps the token holders it has looked up while the counter stands still
(``atalaya.accounts.profiles.HolderCache``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# (table, events) whose rows feed a token holder. ``UPDATE OF`` names the columns read.
WATCHED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("api_tokens", ("UPDATE", "DELETE")),
    ("users", ("UPDATE OF id, username, active, language, agency_id", "DELETE")),
    ("user_roles", ("INSERT", "UPDATE", "DELETE")),
    ("agencies", ("UPDATE OF id, code, level, area_code", "DELETE")),
    ("areas", ("UPDATE OF code, path", "DELETE")),
)
BUMP = "UPDATE credential_epoch SET value = value + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "credential_epoch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_epoch")),
    )
    op.execute("INSERT INTO credential_epoch (id, value) VALUES (1, 0)")
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(
            "CREATE FUNCTION bump_credential_epoch() RETURNS trigger AS $$ BEGIN "
            f"{BUMP}; RETURN NULL; END $$ LANGUAGE plpgsql"
        )
    for table, events in WATCHED:
        for number, event in enumerate(events):
            name = f"{table}_credential_epoch_{number}"
            if postgresql:
                op.execute(
                    f"CREATE TRIGGER {name} AFTER {event} ON {table} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION bump_credential_epoch()"
                )
            else:
                op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {BUMP}; END")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, events in WATCHED:
        for number in range(len(events)):
            name = f"{table}_credential_epoch_{number}"
            op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS bump_credential_epoch()")
    op.drop_table("credential_epoch")
