"""Whether the database's files are sound, for ``/healthz?deep=1`` and ``atalaya backup``.

SQLite: ``PRAGMA quick_check``, which walks every page of every table and index and
checks the b-trees' structure, cells and free space (``integrity_check`` also compares
each index with its table: several times slower, and not needed to tell a damaged file).

PostgreSQL has no such statement of its own. The check reads every table of the schema
whole (a sequential scan reads each heap page, and PostgreSQL verifies each page's header,
and its checksum where the cluster has data checksums), and, when the ``amcheck``
extension is installed in the database (``CREATE EXTENSION amcheck``, by a superuser),
checks every B-tree index with ``bt_index_check``. TOAST values are not read.

Both take time in proportion to the database's size: run them off the event loop
(``web.health``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Connection, Engine, func, select, table, text
from sqlalchemy.exc import DBAPIError

from atalaya.errors import DomainError


def problems(engine: Engine) -> list[str]:
    """Return what is wrong with the database behind ``engine``: empty when it is sound."""
    if engine.dialect.name == "sqlite":
        return _sqlite_problems(engine.url.database or "")
    with engine.connect() as connection:
        try:
            return _postgresql_problems(connection)
        except DBAPIError as error:
            return [str(error.orig).strip()]


def _sqlite_problems(path: str) -> list[str]:
    # A connection of its own, read-only (it never creates a missing file), outside the
    # engine's pool; and text read leniently: a damaged page can hold any bytes.
    try:
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        connection = sqlite3.connect(uri, uri=True)
    except (sqlite3.Error, ValueError) as error:
        return [f"{path}: {error}"]
    connection.text_factory = lambda value: value.decode(errors="replace")
    try:
        rows = connection.execute("PRAGMA quick_check").fetchall()
    # A damaged schema can fail the statement itself, its message undecodable.
    except (sqlite3.Error, UnicodeDecodeError) as error:
        return [str(error)]
    finally:
        connection.close()
    found = [line for (row,) in rows for line in str(row).splitlines()]
    return [] if found == ["ok"] else [line for line in found if not line.startswith("***")]


_TABLES = text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
_AMCHECK = text("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'")
_BTREE_INDEXES = text(
    "SELECT c.oid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
    "JOIN pg_am am ON am.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE am.amname = 'btree' AND n.nspname = current_schema() AND i.indisvalid"
)


def _postgresql_problems(connection: Connection) -> list[str]:
    # No budget: the server's engines stop statements past theirs, and a check cut short
    # would read as damage. Sequential scans only: an index-only count would leave the
    # heap unread.
    connection.execute(text("SET LOCAL statement_timeout = 0"))
    for setting in ("enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan"):
        connection.execute(text(f"SET LOCAL {setting} = off"))
    for name in connection.scalars(_TABLES).all():
        connection.execute(select(func.count()).select_from(table(name)))
    if connection.scalar(_AMCHECK):
        for index in connection.scalars(_BTREE_INDEXES).all():
            connection.execute(text("SELECT bt_index_check(:index)"), {"index": index})
    return []


def check(engine: Engine, code: str) -> None:
    """Return if the database behind ``engine`` is sound; raise ``code`` (its first
    problem as ``problem``) otherwise."""
    if found := problems(engine):
        raise DomainError(code, params={"problem": "; ".join(found[:3])[:500]})
