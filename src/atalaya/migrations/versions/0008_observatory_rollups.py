"""observatory roll-ups: series' years settled, and groups of series added up

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

Derived data for indicator queries, written by atalaya.observatory.rollups.refresh
alone, from the observations: each series' value per year, settled from its periods
(stat_series_years); groups of series that differ in their area alone within a
subdivision (stat_series_groups, and stat_series.rollup_group naming each series'
group) with their members' settled years, quarters and months added up
(stat_series_group_periods). Filled here from the observations already stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stat_series_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("indicator", sa.String(length=40), nullable=False),
        sa.Column("iccs_code", sa.String(length=6), nullable=False),
        sa.Column("national_scheme", sa.String(length=40), nullable=False),
        sa.Column("national_code", sa.String(length=300), nullable=False),
        sa.Column("sex", sa.String(length=10), nullable=False),
        sa.Column("age_group", sa.String(length=10), nullable=False),
        sa.Column("weapon", sa.String(length=20), nullable=False),
        sa.Column("area_path", sa.String(length=200), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["stat_sources.id"],
            name=op.f("fk_stat_series_groups_source_id_stat_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stat_series_groups")),
        sa.UniqueConstraint(
            "source_id",
            "indicator",
            "iccs_code",
            "national_scheme",
            "national_code",
            "sex",
            "age_group",
            "weapon",
            "area_path",
            name=op.f("uq_stat_series_groups_source_id"),
        ),
    )
    op.create_table(
        "stat_series_group_periods",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.String(length=1), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["stat_series_groups.id"],
            name=op.f("fk_stat_series_group_periods_group_id_stat_series_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "group_id", "frequency", "year", "month", name=op.f("pk_stat_series_group_periods")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "stat_series_years",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["stat_series.id"],
            name=op.f("fk_stat_series_years_series_id_stat_series"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("series_id", "year", name=op.f("pk_stat_series_years")),
        sqlite_with_rowid=False,
    )
    # A plain ADD COLUMN (no foreign key: SQLite would rebuild stat_series, and dropping
    # the old table would cascade to its observations).
    with op.batch_alter_table("stat_series", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rollup_group", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_stat_series_rollup_group"), ["rollup_group"], unique=False
        )
    _fill()


def _fill() -> None:
    """Settle and group every series already stored (``rollups.refresh`` reads and writes
    only the tables of this revision)."""
    from sqlalchemy.orm import Session

    from atalaya.observatory import rollups

    session = Session(bind=op.get_bind())
    ids = session.scalars(sa.text("SELECT id FROM stat_series ORDER BY id")).all()
    rollups.refresh(session, ids)
    session.flush()


def downgrade() -> None:
    # Not in batch mode: SQLite (3.35 and later) drops the column in place, where a batch
    # would rebuild stat_series and cascade the drop of the old table to its observations.
    op.drop_index(op.f("ix_stat_series_rollup_group"), table_name="stat_series")
    op.drop_column("stat_series", "rollup_group")
    op.drop_table("stat_series_years")
    op.drop_table("stat_series_group_periods")
    op.drop_table("stat_series_groups")
