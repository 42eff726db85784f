"""Database plumbing: the declarative ``Base``, engines and session factories.

Two kinds of session: ``sessions`` for work that writes, ``read_sessions`` for work
that only reads (GET requests). A read session is read-only in the database itself
(``PRAGMA query_only`` on SQLite, ``default_transaction_read_only`` on PostgreSQL), so a
page that tries to change something fails loudly instead of quietly.

SQLite runs in WAL mode with foreign keys on. Write transactions start with
``BEGIN IMMEDIATE``, so that two processes never fail upgrading a read lock to a write
lock; reads run statement by statement (autocommit) alongside writers. PostgreSQL
goes through psycopg 3.

Each process also keeps two ``DirectConnection``s, one read-only, one for writing, for
the few statements on every request's path, which run on the DBAPI cursor without a
session or a pool checkout (decision 0002).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import math
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, overload

from sqlalchemy import Connection, DateTime, Engine, MetaData, String, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import PoolProxiedConnection
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

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, one step instead of two: the text SQLAlchemy's ``DATETIME`` would
        write (``YYYY-MM-DD HH:MM:SS.ffffff``) straight from the aware value. Every audit
        entry binds one, so it is on every audited request's path; a test compares the
        two over the whole calendar."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: dt.datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTCDateTime column")
            return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

        return process


@overload
def as_utc(moment: dt.datetime) -> dt.datetime: ...
@overload
def as_utc(moment: None) -> None: ...
def as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    """Return ``moment`` in UTC; a time given without a zone (a form, a query string, a
    command line) is taken as UTC. A time at the very edge of the calendar whose UTC
    falls outside it (``0001-01-01T00:00+00:01``) is taken as the calendar's first or
    last moment, not an error: no record or filter can tell them apart."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        edge = dt.datetime.min if moment.year == dt.MINYEAR else dt.datetime.max
        return edge.replace(tzinfo=dt.UTC)


def utcnow() -> dt.datetime:
    """Return the current time in UTC, truncated to microseconds as both engines store it."""
    return dt.datetime.now(dt.UTC)


# One connection for each thread that serves requests (AnyIO's default limit is 40),
# so connections are kept and reused rather than opened per request; the overflow
# covers the audit writer and the odd burst.
POOL_SIZE = 40


def make_engine(
    settings: Settings,
    *,
    read_only: bool = False,
    statement_timeout: float | None = None,
    off_loop: bool = False,
) -> Engine:
    """Return an engine for ``settings.database_url``, configured for its backend.

    A ``read_only`` engine's connections refuse writes for as long as they live, so
    the setting costs nothing per transaction. With ``statement_timeout`` (seconds), a
    statement still running after that long is stopped with an error that
    ``statement_timed_out`` recognises (the server's budget per statement; commands
    such as imports run without one). ``off_loop`` engines refuse statements on a
    thread running an event loop (``keep_off_event_loop``).
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
        if off_loop:
            keep_off_event_loop(engine)  # first: before the writers' lock is waited for
        _configure_sqlite(engine, read_only, _sqlite_path(url), statement_timeout)
        if statement_timeout:
            _limit_sqlite_statements(engine, statement_timeout)
        return engine
    # No JIT: it compiles a plan for seconds to save milliseconds on a big scan, and
    # this node's statements are short ones (an indicator query over ten million
    # observations stalled for two seconds when the planner chose it).
    options = "-c jit=off" + (" -c default_transaction_read_only=on" if read_only else "")
    if statement_timeout:
        options += f" -c statement_timeout={round(statement_timeout * 1000)}"
        # A backstop: a transaction left open and idle (a bug) would hold its row locks,
        # the audit head's among them, for good; the server ends it instead.
        idle = max(60.0, 2 * statement_timeout)
        options += f" -c idle_in_transaction_session_timeout={round(idle * 1000)}"
    engine = create_engine(url, pool_recycle=3600, connect_args={"options": options}, **pool)
    if off_loop:
        keep_off_event_loop(engine)
    return engine


def _sqlite_path(url: str) -> str | None:
    path = url.split("///", 1)[-1]
    return path if path and path != ":memory:" else None


def _ensure_sqlite_dir(url: str) -> None:
    from pathlib import Path

    if path := _sqlite_path(url):
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(
    engine: Engine, read_only: bool, path: str | None, lock_timeout: float | None = None
) -> None:
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
        _queue_writers(engine, path + ".writer-lock", lock_timeout)


# Where a connection keeps the deadline of its running statement (``info``), a list of
# one monotonic time, which the progress handler reads.
STATEMENT_DEADLINE = "statement_deadline"

# SQLite calls the progress handler every this many virtual-machine instructions: some
# tens of microseconds of work, so a statement stops within a millisecond of its
# deadline, and the check costs next to nothing.
PROGRESS_STEPS = 10_000


def _limit_sqlite_statements(engine: Engine, seconds: float) -> None:
    """Stop any statement of ``engine`` that runs longer than ``seconds``.

    SQLite has no statement timeout; its progress handler, called as the statement
    runs (fetching included), interrupts it once the deadline set when it started has
    passed. Statements run on a ``DirectConnection`` bypass the engine's events and so
    are never limited: they are the few fixed, indexed ones on every request's path.
    """

    @event.listens_for(engine, "connect")
    def _watch(dbapi_connection: Any, record: Any) -> None:
        deadline = record.info[STATEMENT_DEADLINE] = [math.inf]
        dbapi_connection.set_progress_handler(
            lambda: time.monotonic() > deadline[0], PROGRESS_STEPS
        )

    @event.listens_for(engine, "before_cursor_execute")
    def _start(connection: Any, *_: Any) -> None:
        connection.info[STATEMENT_DEADLINE][0] = time.monotonic() + seconds

    @event.listens_for(engine, "checkin")
    def _stop(_dbapi_connection: Any, record: Any) -> None:
        if (deadline := record.info.get(STATEMENT_DEADLINE)) is not None:
            deadline[0] = math.inf


def statement_timed_out(error: BaseException) -> bool:
    """Return whether ``error`` is a statement stopped at its deadline: SQLite's
    progress handler (``interrupted``), PostgreSQL's ``statement_timeout``, or a writer
    that waited its budget for SQLite's writers' lock."""
    if isinstance(error, WriterLockTimeout):
        return True
    original = getattr(error, "orig", error)
    if getattr(original, "sqlstate", None) == "57014":  # query_canceled
        return True
    return isinstance(original, sqlite3.OperationalError) and str(original) == "interrupted"


def keep_off_event_loop(engine: Engine) -> None:
    """Make every statement that goes through ``engine`` (sessions, ``Connection``s)
    fail loudly when run on a thread that is running an event loop.

    On the loop, a statement that is slow or waits for a lock stops every request of
    the process, and a writer waiting there for SQLite's writers' lock can wait forever
    for a holder that needs the loop to finish (decision 0009). Routes that work with a
    session are plain ``def`` routes, which run in the thread pool; the loop runs only
    ``Prepared`` statements on ``DirectConnection``s, which do not pass through here.
    """
    if event.contains(engine, "before_cursor_execute", _refuse_on_event_loop):
        return
    event.listen(engine, "before_cursor_execute", _refuse_on_event_loop)
    # Listeners run in the order they were added: added before ``_queue_writers``, this
    # one refuses before the writers' lock is waited for, not after.
    event.listen(engine, "begin", _refuse_on_event_loop)


# Set while a ``DirectConnection`` built on a test's ``Connection`` opens its savepoint:
# in production its statements go straight to the DBAPI connection, past the guard.
_DIRECT_ON_TEST_CONNECTION: ContextVar[bool] = ContextVar(
    "direct_on_test_connection", default=False
)


def _refuse_on_event_loop(*_: Any) -> None:
    # asyncio's own test for "is a loop running in this thread", without an exception.
    if asyncio._get_running_loop() is not None and not _DIRECT_ON_TEST_CONNECTION.get():
        raise OnEventLoopError(
            "a database statement ran on the event loop: run the route as a plain def "
            "(FastAPI's thread pool), or hand the work to a thread"
        )


class OnEventLoopError(RuntimeError):
    """A statement went through a guarded engine on a thread running an event loop."""


# Where a write connection keeps the file descriptor of its writers' lock (``info``),
# and the one that holds it for its transaction when it waited with a timeout.
HELD_LOCK = "held_writer_lock"
WRITER_LOCK = "writer_lock"


def _queue_writers(engine: Engine, lock_path: str, timeout: float | None = None) -> None:
    """Make writers, in every process, wait their turn on a lock the kernel hands over.

    SQLite's own wait for a busy database sleeps 1, 2, 5... milliseconds between tries,
    far longer than the write it waits for takes. A writer here holds an exclusive
    ``flock`` from ``BEGIN IMMEDIATE`` until its connection goes back to the pool, and
    the next one wakes the moment it is released. With a ``timeout`` (the server's
    budget), a writer waits at most that long (``WriterLockTimeout``): a command holding
    the lock for minutes (a large import) costs the server's writers an answer, not
    their threads for as long as it runs.
    """

    @event.listens_for(engine, "connect")
    def _open_lock(_dbapi_connection: Any, record: Any) -> None:
        record.info[WRITER_LOCK] = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)

    @event.listens_for(engine, "close")
    def _close_lock(_dbapi_connection: Any, record: Any) -> None:
        for key in (WRITER_LOCK, HELD_LOCK):
            if (fd := record.info.pop(key, None)) is not None:
                os.close(fd)  # closing the descriptor gives back a lock it holds

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if timeout is None:
            fcntl.flock(connection.info[WRITER_LOCK], fcntl.LOCK_EX)
        else:
            connection.info[HELD_LOCK] = _flock_within(lock_path, timeout)
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if (fd := record.info.get(WRITER_LOCK)) is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        if (held := record.info.pop(HELD_LOCK, None)) is not None:
            fcntl.flock(held, fcntl.LOCK_UN)
            os.close(held)


class WriterLockTimeout(Exception):
    """A writer waited its budget for SQLite's writers' lock without getting it."""


def _flock_within(lock_path: str, seconds: float) -> int:
    """Return a descriptor of ``lock_path`` of its own that holds the exclusive ``flock``,
    waiting at most ``seconds`` for it; raise ``WriterLockTimeout`` then.

    The wait is the kernel's, so writers are still woken in turn the moment the lock is
    free (tries after pauses were not: the slowest of twenty writers waited six times as
    long). A thread blocked in ``flock`` cannot be told to stop, so a helper thread
    waits; if it gets the lock after the caller gave up, it lets it go at once. Its
    descriptor is its own, so nobody else is ever handed a lock through it.
    """
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except BlockingIOError:
        pass
    got, settled = threading.Event(), threading.Lock()
    gave_up = False

    def wait() -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with settled:
            if gave_up:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            else:
                got.set()

    threading.Thread(target=wait, name="writers-lock", daemon=True).start()
    if got.wait(seconds):
        return fd
    with settled:
        if got.is_set():
            return fd
        gave_up = True
    raise WriterLockTimeout(seconds)


@dataclass
class Database:
    """An engine, the session factories bound to it, and the process's direct
    connections: ``reader`` for the reads on every request's path (who holds this token)
    and ``writer`` for the audit writer's group commits; on SQLite they are one and the
    same connection (decision 0005)."""

    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    reader: DirectConnection
    writer: DirectConnection

    @classmethod
    def from_settings(cls, settings: Settings, *, serving: bool = False) -> Database:
        """Return the database of ``settings``; ``serving`` (the web application) limits
        each statement to ``settings.statement_timeout_seconds`` and keeps sessions off
        the event loop (``keep_off_event_loop``)."""
        timeout = settings.statement_timeout_seconds if serving else None
        engine = make_engine(settings, statement_timeout=timeout, off_loop=serving)
        read_engine = make_engine(
            settings, read_only=True, statement_timeout=timeout, off_loop=serving
        )
        writer = DirectConnection(engine, lock_timeout=timeout)
        # SQLite empties a connection's page cache whenever another connection has
        # committed, so a reader beside the audit writer would start nearly every
        # request cold; the writer's own commits leave its cache as it is. Its reads
        # run in autocommit between two awaits, never inside the writer's transactions.
        # PostgreSQL has no such cache, and its driver would open a transaction for a
        # read on the writer, so there the reader stays read-only and apart.
        sqlite = engine.dialect.name == "sqlite"
        return cls(
            engine,
            sessionmaker(engine, expire_on_commit=False),
            sessionmaker(read_engine, expire_on_commit=False),
            writer if sqlite else DirectConnection(read_engine),
            writer,
        )


class DirectConnection:
    """One DBAPI connection a process keeps for itself and uses inline on its event loop,
    for the statements on every request's path (decision 0002).

    Given an engine, the connection is taken from its pool on first use and kept; it is
    dropped when the driver reports it lost, and taken afresh on the next use. Given a
    ``Connection`` (tests), it works inside that connection's transaction, and
    ``transaction`` is a savepoint. A statement runs between two ``await``s, never
    across one, so one connection serves every request of the loop. Not for threads.
    """

    def __init__(self, source: Engine | Connection, lock_timeout: float | None = None) -> None:
        self.source = source
        self.dialect = source.dialect
        # How long ``transaction`` waits for SQLite's writers' lock (None: for ever).
        self.lock_timeout = lock_timeout
        self._kept: PoolProxiedConnection | None = None

    def run(self, sql: str, parameters: Any, *, fetch: bool, many: bool = False) -> list[Any]:
        """Execute ``sql`` (once for each of ``parameters`` with ``many``); return the raw
        rows if ``fetch``."""
        connection = self._connection()
        try:
            return _run(connection.dbapi_connection, sql, parameters, fetch, many)
        except self.dialect.loaded_dbapi.Error as error:
            if self.dialect.is_disconnect(error, connection.dbapi_connection, None):
                self._discard()
            raise

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Run the body, which must not ``await``, in one transaction: committed if it
        returns, rolled back if not.

        SQLite writers take the same ``flock`` as the engine's other writers, but wait
        for it without blocking the event loop: the holder may be a request of this very
        loop, awaiting something while its transaction is open.
        """
        if isinstance(self.source, Connection):
            allowed = _DIRECT_ON_TEST_CONNECTION.set(True)
            try:
                with self.source.begin_nested():
                    yield
            finally:
                _DIRECT_ON_TEST_CONNECTION.reset(allowed)
            return
        connection = self._connection()
        lock = connection.info.get(WRITER_LOCK)
        if lock is not None:
            await _take_lock(lock, self.lock_timeout)
        try:
            if self.dialect.name == "sqlite":
                self.run("BEGIN IMMEDIATE", (), fetch=False)
            try:
                with _pipeline(connection.dbapi_connection):
                    yield
                    connection.commit()
            except BaseException:
                self._rollback(connection)
                raise
        finally:
            if lock is not None:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _connection(self) -> PoolProxiedConnection:
        if self._kept is not None:
            return self._kept
        if isinstance(self.source, Connection):
            return self.source.connection
        self._kept = self.source.raw_connection()
        return self._kept

    def _rollback(self, connection: PoolProxiedConnection) -> None:
        try:
            connection.rollback()
        except self.dialect.loaded_dbapi.Error:
            self._discard()

    def _discard(self) -> None:
        if self._kept is not None:
            self._kept.invalidate()
            self._kept = None


def lock_refused(error: BaseException) -> bool:
    """Return whether ``error`` is PostgreSQL refusing to wait for a lock (``NOWAIT``)."""
    return getattr(error, "sqlstate", None) == "55P03"


def _pipeline(dbapi_connection: Any) -> AbstractContextManager[Any]:
    """Return psycopg's pipeline mode where there is one: statements are sent without
    waiting for each answer, and a transaction costs two round trips to the server
    (up to the first result, then the rest with the commit) instead of one each."""
    pipeline = getattr(dbapi_connection, "pipeline", None)
    return pipeline() if pipeline is not None else nullcontext()


async def _take_lock(fd: int, timeout: float | None = None) -> None:
    """Take the exclusive ``flock`` on ``fd``: at once if it is free, else in a thread
    that waits for it, so that the event loop goes on serving meanwhile; for at most
    ``timeout`` seconds, then raise ``WriterLockTimeout`` (a command may hold the lock
    for minutes, and the requests waiting for this writer would wait as long)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    waiting = asyncio.get_running_loop().run_in_executor(None, fcntl.flock, fd, fcntl.LOCK_EX)
    try:
        await asyncio.wait_for(asyncio.shield(waiting), timeout)
    except (asyncio.CancelledError, TimeoutError) as stopped:
        # The thread takes the lock in the end: give it back then.
        waiting.add_done_callback(lambda _: fcntl.flock(fd, fcntl.LOCK_UN))
        if isinstance(stopped, TimeoutError):
            raise WriterLockTimeout(timeout) from None
        raise


def _run(dbapi_connection: Any, sql: str, parameters: Any, fetch: bool, many: bool) -> list[Any]:
    cursor = dbapi_connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        return cursor.fetchall() if fetch else []
    finally:
        cursor.close()


class Prepared:
    """A Core statement compiled once per dialect and run straight on the DBAPI cursor.

    Only for the few statements on every request's path (who holds this token, the
    audit log's head): SQLAlchemy's execution machinery costs many times what SQLite
    itself does. The SQL is still written once, with Core, for both engines, and values
    still pass through the column types (``UTCDateTime`` and the rest) both ways. Runs on
    a ``Connection`` (inside its transaction) or on a ``DirectConnection``.
    """

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def rows(
        self, connection: Connection | DirectConnection, **params: Any
    ) -> list[tuple[Any, ...]]:
        """Execute with ``params`` and return the processed result rows."""
        compiled = self._compiled(connection.dialect)
        raw = _run_on(connection, compiled.sql, compiled.parameters(params), compiled.fetch)
        return [compiled.row(r) for r in raw] if compiled.processors else raw

    def execute_many(
        self, connection: Connection | DirectConnection, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        compiled = self._compiled(connection.dialect)
        parameters = compiled.many(rows)
        _run_on(connection, compiled.sql, parameters, fetch=False, many=True)

    def _compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            found = self._by_dialect[dialect.name] = _Compiled.of(self.statement, dialect)
        return found


def _run_on(
    connection: Connection | DirectConnection,
    sql: str,
    parameters: Any,
    fetch: bool,
    many: bool = False,
) -> list[Any]:
    if isinstance(connection, DirectConnection):
        return connection.run(sql, parameters, fetch=fetch, many=many)
    return _run(connection.connection.dbapi_connection, sql, parameters, fetch, many)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...] | None  # bind names in order, for positional paramstyles
    defaults: dict[str, Any]  # values of the literals in the statement
    binds: dict[str, Callable[[Any], Any]]
    fetch: bool  # whether the statement returns rows
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # result columns to convert

    @classmethod
    def of(cls, statement: ClauseElement, dialect: Dialect) -> _Compiled:
        compiled: Any = statement.compile(dialect=dialect)
        columns = [
            rc.type._cached_result_processor(dialect, None) for rc in compiled._result_columns
        ]
        processors = tuple((i, p) for i, p in enumerate(columns) if p is not None)
        names = tuple(compiled.positiontup) if compiled.positional else None
        defaults = compiled.construct_params(_check=False)
        binds = dict(compiled._bind_processors)
        return cls(compiled.string, names, defaults, binds, bool(columns), processors)

    def parameters(self, params: Mapping[str, Any]) -> Any:
        merged = {**self.defaults, **params}
        values = {k: (self.binds[k](v) if k in self.binds else v) for k, v in merged.items()}
        return tuple(values[n] for n in self.names) if self.names is not None else values

    def many(self, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Return the parameters of ``rows``; when each row gives every value, without
        merging defaults row by row (bulk inserts pass hundreds of thousands)."""
        if not rows or set(self.defaults) - set(rows[0]):
            return [self.parameters(r) for r in rows]
        names = list(self.names or self.defaults)
        processed = [(i, self.binds[n]) for i, n in enumerate(names) if n in self.binds]
        pick = itemgetter(*names)
        values = [pick(r) for r in rows] if len(names) > 1 else [(pick(r),) for r in rows]
        if processed:
            # Column by column: each processor mapped over its column, rows rebuilt once.
            columns = list(zip(*values, strict=True))
            for index, process in processed:
                columns[index] = _mapped(process, columns[index])
            values = list(zip(*columns, strict=True))
        if self.names is not None:
            return values
        return [dict(zip(names, v, strict=True)) for v in values]

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        row = list(raw)
        for i, process in self.processors:
            row[i] = process(row[i])
        return tuple(row)


def _mapped(process: Callable[[Any], Any], column: tuple[Any, ...]) -> tuple[Any, ...]:
    """Return ``column`` processed; each distinct value once when values repeat (a bulk
    insert's timestamps, dates and flags mostly do). A column holds one type, so values
    that compare equal are processed alike."""
    try:
        distinct = set(column)
    except TypeError:  # unhashable values (JSON documents)
        return tuple(map(process, column))
    if len(distinct) * 2 > len(column):
        return tuple(map(process, column))
    done = {value: process(value) for value in distinct}
    return tuple(map(done.__getitem__, column))


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
