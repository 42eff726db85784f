"""series alone in their family

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30

``stat_series.alone``: whether a series is the only one of its family (source,
indicator, ICCS code, national category, area), so that an indicator query keeps it
without looking for a total beside it. Filled here for the series already held; kept
by ``rollups.refresh`` from then on. Plain ``ALTER TABLE`` on both engines: a batch
rebuild of ``stat_series`` on SQLite would cascade-delete its observations.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

FAMILY = ("source_id", "indicator", "iccs_code", "national_scheme", "national_code", "area_code")


def upgrade() -> None:
    op.add_column(
        "stat_series", sa.Column("alone", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    same = " AND ".join(f"other.{k} = stat_series.{k}" for k in FAMILY)
    op.execute(
        "UPDATE stat_series SET alone = "  # noqa: S608 - column names of this migration
        f"((SELECT count(*) FROM stat_series AS other WHERE {same}) = 1)"
    )


def downgrade() -> None:
    op.drop_column("stat_series", "alone")
