"""hit references per query

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08

A hit's reference was stored in the index, one per agreement and incident, so every
answer about one incident (its VIN, its plate, its suspect, the same plate asked twice)
gave the same reference. References are now made for each answer
(``hit_index.reference_for``) and kept only with the query received, which resolves
them: the index keeps none. Answers given before this revision keep resolving theirs
for the time any reference does.

Going down, the index is emptied (and its state with it), so that the old code rebuilds
it, with its references, at the next query.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("federation_hit_index", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_hit_index_reference"))
        batch_op.drop_column("reference")


def downgrade() -> None:
    op.execute("DELETE FROM federation_hit_index")
    op.execute("DELETE FROM federation_hit_index_state")
    with op.batch_alter_table("federation_hit_index", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference", sa.String(length=64), nullable=False))
        batch_op.create_index(
            batch_op.f("ix_federation_hit_index_reference"), ["reference"], unique=False
        )
