"""full-text search of incident narratives

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

SQLite: an FTS5 index kept in step by triggers (accents and case folded).
PostgreSQL: a GIN index over the narrative's text-search vector ('simple' configuration:
no stemming, so it serves every language alike).
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE incidents_fts USING fts5(narrative, content='incidents', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "INSERT INTO incidents_fts(rowid, narrative) SELECT id, narrative FROM incidents",
    "CREATE TRIGGER incidents_fts_insert AFTER INSERT ON incidents BEGIN "
    "INSERT INTO incidents_fts(rowid, narrative) VALUES (new.id, new.narrative); END",
    "CREATE TRIGGER incidents_fts_delete AFTER DELETE ON incidents BEGIN "
    "INSERT INTO incidents_fts(incidents_fts, rowid, narrative) "
    "VALUES ('delete', old.id, old.narrative); END",
    "CREATE TRIGGER incidents_fts_update AFTER UPDATE OF narrative ON incidents BEGIN "
    "INSERT INTO incidents_fts(incidents_fts, rowid, narrative) "
    "VALUES ('delete', old.id, old.narrative); "
    "INSERT INTO incidents_fts(rowid, narrative) VALUES (new.id, new.narrative); END",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS incidents_fts_update",
    "DROP TRIGGER IF EXISTS incidents_fts_delete",
    "DROP TRIGGER IF EXISTS incidents_fts_insert",
    "DROP TABLE IF EXISTS incidents_fts",
]
POSTGRESQL_UP = [
    "CREATE INDEX ix_incidents_narrative_search ON incidents "
    "USING gin (to_tsvector('simple', narrative))",
]
POSTGRESQL_DOWN = ["DROP INDEX IF EXISTS ix_incidents_narrative_search"]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_UP if sqlite else POSTGRESQL_UP:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_DOWN if sqlite else POSTGRESQL_DOWN:
        op.execute(statement)
