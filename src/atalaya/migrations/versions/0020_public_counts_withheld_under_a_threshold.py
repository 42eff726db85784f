"""public counts withheld under a threshold

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08

``stat_sources.disclosure_threshold``: public counts of a source under it are withheld as
confidential (``atalaya.observatory.disclosure``); 0 (none) for the sources held, 3 for
the node's own records. Plain ``ALTER TABLE`` on both engines: a batch rebuild of
``stat_sources`` on SQLite would cascade-delete its series.

Restricted incidents no longer count in the indicators of the node's records. Where any
is held, the records' counts are emptied and every incident is queued to be counted
again (``stat_pending_counts``), as a bulk import leaves them: the worker, or
``atalaya stats count``, counts them without the restricted ones.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

RECORDS = "SELECT id FROM stat_sources WHERE format = 'records'"
SERIES = f"SELECT id FROM stat_series WHERE source_id IN ({RECORDS})"  # noqa: S608
GROUPS = f"SELECT id FROM stat_series_groups WHERE source_id IN ({RECORDS})"  # noqa: S608


def upgrade() -> None:
    op.add_column(
        "stat_sources",
        sa.Column("disclosure_threshold", sa.Integer(), server_default="0", nullable=False),
    )
    op.execute(f"UPDATE stat_sources SET disclosure_threshold = 3 WHERE id IN ({RECORDS})")  # noqa: S608
    restricted = op.get_bind().scalar(sa.text("SELECT 1 FROM incidents WHERE restricted LIMIT 1"))
    if restricted is None:
        return
    for table, key, ids in (
        ("stat_observations", "series_id", SERIES),
        ("stat_series_years", "series_id", SERIES),
        ("stat_series_group_periods", "group_id", GROUPS),
    ):
        op.execute(f"DELETE FROM {table} WHERE {key} IN ({ids})")  # noqa: S608
    op.execute(
        "INSERT INTO stat_pending_counts (incident_id) SELECT id FROM incidents "
        "WHERE id NOT IN (SELECT incident_id FROM stat_pending_counts)"
    )


def downgrade() -> None:
    op.drop_column("stat_sources", "disclosure_threshold")
