"""Database plumbing: the declarative ``Base``, engines and session factories.

Two kinds of session: ``sessions`` for work that writes, ``read_sessions`` for work
that only reads (GET requests). A read session is read-only in the database itself
(``PRAGMA query_only`` on SQLite, ``default_transaction_read_only`` on PostgreSQL), so a
page that tries to change something fails loudly instead of quietly.

SQLite runs in WAL mode with foreign keys on. Write transactions start with
``BEGIN IMMEDIATE``, so that two processes never fail upgrading a read lock to a write
lock; reads run statement by statement (autocommit) alongside writers. PostgreSQL
goes through psycopg 3.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

from sqlalchemy import Connection, DateTime, Engine, MetaData, String, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.expression import ClauseElement, FunctionElement
from sqlalchemy.types import TypeDecorator

from atalaya.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as naive UTC and always returned timezone-aware in UTC.

    Both engines then hand back the same value, which the audit chain hashes.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


@overload
def as_utc(moment: dt.datetime) -> dt.datetime: ...
@overload
def as_utc(moment: None) -> None: ...
def as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    """Return ``moment`` in UTC; a time given without a zone (a form, a query string, a
    command line) is taken as UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    """Return the current time in UTC, truncated to microseconds as both engines store it."""
    return dt.datetime.now(dt.UTC)


# One connection for each thread that serves requests (AnyIO's default limit is 40),
# so connections are kept and reused rather than opened per request; the overflow
# covers the audit writer and the odd burst.
POOL_SIZE = 40


def make_engine(settings: Settings, *, read_only: bool = False) -> Engine:
    """Return an engine for ``settings.database_url``, configured for its backend.

    A ``read_only`` engine's connections refuse writes for as long as they live, so
    the setting costs nothing per transaction.
    """
    url = settings.database_url
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    pool: dict[str, Any] = {"pool_size": POOL_SIZE, "max_overflow": 10, "echo": settings.log_sql}
    if read_only:
        # Each read statement is its own transaction: no BEGIN and COMMIT to pay for.
        pool["isolation_level"] = "AUTOCOMMIT"
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        args = {"check_same_thread": False, "timeout": 30}
        engine = create_engine(url, connect_args=args, **pool)
        _configure_sqlite(engine, read_only, _sqlite_path(url))
        return engine
    options = {"options": "-c default_transaction_read_only=on"} if read_only else {}
    return create_engine(url, pool_recycle=3600, connect_args=options, **pool)


def _sqlite_path(url: str) -> str | None:
    path = url.split("///", 1)[-1]
    return path if path and path != ":memory:" else None


def _ensure_sqlite_dir(url: str) -> None:
    from pathlib import Path

    if path := _sqlite_path(url):
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: Engine, read_only: bool, path: str | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL is a property of the file: set it once, not on every connection.
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA query_only={int(read_only)}")
        cursor.close()

    if read_only:
        return
    if path is None:

        @event.listens_for(engine, "begin")
        def _on_begin_in_memory(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    else:
        _queue_writers(engine, path + ".writer-lock")


def _queue_writers(engine: Engine, lock_path: str) -> None:
    """Make writers, in every process, wait their turn on a lock the kernel hands over.

    SQLite's own wait for a busy database sleeps 1, 2, 5... milliseconds between tries,
    stalling the event loop far longer than the write it waits for takes. A writer
    here holds an exclusive ``flock`` from ``BEGIN IMMEDIATE`` until its connection
    goes back to the pool, and the next one wakes the moment it is released.
    """

    @event.listens_for(engine, "connect")
    def _open_lock(_dbapi_connection: Any, record: Any) -> None:
        record.info["writer_lock"] = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)

    @event.listens_for(engine, "close")
    def _close_lock(_dbapi_connection: Any, record: Any) -> None:
        if (fd := record.info.pop("writer_lock", None)) is not None:
            os.close(fd)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        fcntl.flock(connection.info["writer_lock"], fcntl.LOCK_EX)
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if (fd := record.info.get("writer_lock")) is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)


@dataclass
class Database:
    """An engine and the session factories bound to it."""

    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        engine = make_engine(settings)
        reader = make_engine(settings, read_only=True)
        return cls(
            engine,
            sessionmaker(engine, expire_on_commit=False),
            sessionmaker(reader, expire_on_commit=False),
        )


class Prepared:
    """A Core statement compiled once per dialect and run straight on the DBAPI cursor.

    Only for the few statements on every request's path (who holds this token, the
    audit log's head): SQLAlchemy's execution machinery costs many times what SQLite
    itself does. The SQL is still written once, with Core, for both engines, and values
    still pass through the column types (``UTCDateTime`` and the rest) both ways.
    """

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def rows(self, connection: Connection, **params: Any) -> list[tuple[Any, ...]]:
        """Execute with ``params`` and return the processed result rows."""
        compiled = self._compiled(connection.dialect)
        cursor = connection.connection.cursor()
        try:
            cursor.execute(compiled.sql, compiled.parameters(params))
            return [compiled.row(raw) for raw in cursor.fetchall()] if compiled.columns else []
        finally:
            cursor.close()

    def execute_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        compiled = self._compiled(connection.dialect)
        cursor = connection.connection.cursor()
        try:
            cursor.executemany(compiled.sql, [compiled.parameters(r) for r in rows])
        finally:
            cursor.close()

    def _compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            found = self._by_dialect[dialect.name] = _Compiled.of(self.statement, dialect)
        return found


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...] | None  # bind names in order, for positional paramstyles
    defaults: dict[str, Any]  # values of the literals in the statement
    binds: dict[str, Callable[[Any], Any]]
    columns: tuple[Callable[[Any], Any] | None, ...]

    @classmethod
    def of(cls, statement: ClauseElement, dialect: Dialect) -> _Compiled:
        compiled: Any = statement.compile(dialect=dialect)
        columns = tuple(
            rc.type._cached_result_processor(dialect, None) for rc in compiled._result_columns
        )
        names = tuple(compiled.positiontup) if compiled.positional else None
        defaults = compiled.construct_params(_check=False)
        return cls(compiled.string, names, defaults, dict(compiled._bind_processors), columns)

    def parameters(self, params: Mapping[str, Any]) -> Any:
        merged = {**self.defaults, **params}
        values = {k: (self.binds[k](v) if k in self.binds else v) for k, v in merged.items()}
        return tuple(values[n] for n in self.names) if self.names is not None else values

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(p(v) if p else v for p, v in zip(self.columns, raw, strict=True))


class comma_joined(FunctionElement[str]):
    """``comma_joined(column)``: the column's values in a group joined by commas, for
    both engines (SQLite's ``group_concat``, PostgreSQL's ``string_agg``)."""

    type = String()
    inherit_cache = True
    name = "comma_joined"


@compiles(comma_joined, "sqlite")
def _comma_joined_sqlite(element: comma_joined, compiler: Any, **kw: Any) -> str:
    return f"group_concat({compiler.process(element.clauses, **kw)}, ',')"


@compiles(comma_joined, "postgresql")
def _comma_joined_postgresql(element: comma_joined, compiler: Any, **kw: Any) -> str:
    return f"string_agg({compiler.process(element.clauses, **kw)}, ',')"


class year_month(FunctionElement[str]):
    """``year_month(timestamp)``: ``YYYY-MM`` of a timestamp column, on both engines."""

    type = String()
    inherit_cache = True
    name = "year_month"


@compiles(year_month, "sqlite")
def _year_month_sqlite(element: year_month, compiler: Any, **kw: Any) -> str:
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


@compiles(year_month, "postgresql")
def _year_month_postgresql(element: year_month, compiler: Any, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM')"
