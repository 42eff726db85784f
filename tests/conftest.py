"""Test fixtures: one migrated database per run, one rolled-back transaction per test.

The database holds the reference areas and the demo world (DESIGN.md's personas):
alice (officer) and bob (analyst) of agency A (Juárez municipal police), charlie
(officer) of agency B (Guadalajara municipal police), diana (supervisor, Chihuahua
state), admin (administrator, federal, TOTP), auditor (federal) and carmen (central
authority, TOTP). Run with ``--db=postgresql`` for PostgreSQL (a throwaway cluster,
or ``ATALAYA_TEST_POSTGRES_URL``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from atalaya.accounts import service
from atalaya.accounts.credentials import Credentials
from atalaya.app import create_app
from atalaya.audit.service import Actor, AuditContext
from atalaya.db import Database, DirectConnection, make_engine
from atalaya.demo import load_demo
from atalaya.geo.service import seed_reference_areas
from atalaya.migrations import upgrade
from atalaya.settings import Settings

TEST_CONTEXT = AuditContext(Actor("cli", username="os:pytest"), "test", "cli")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="database engine to run the suite against",
    )


@pytest.fixture(scope="session")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.config.getoption("--db") == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'atalaya.db'}"
        return
    if url := os.environ.get("ATALAYA_TEST_POSTGRES_URL"):
        yield url
        return
    from postgres_cluster import throwaway_cluster

    with throwaway_cluster() as url:
        yield url


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def make_settings(url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": url,
        "data_dir": data_dir,
        "secret_key": "test-secret-key-not-for-production",
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(database_url, tmp_path_factory.mktemp("data"))


def prepare(engine: Engine, settings: Settings) -> None:
    """Migrate, seed reference areas and load the demo world, committed."""
    upgrade(engine)
    with Session(engine) as session:
        seed_reference_areas(session)
        load_demo(session, Credentials.from_settings(settings), TEST_CONTEXT)
        session.commit()


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    # Kept off the event loop like the server's: a route that works with a session on the
    # loop fails its tests (decision 0009).
    engine = make_engine(settings, off_loop=True)
    if is_postgres(settings.database_url):
        with engine.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    prepare(engine, settings)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back when the test ends."""
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def db(engine: Engine, connection: Connection) -> Database:
    sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    # Direct connections work inside the test's transaction too, on savepoints.
    direct = DirectConnection(connection)
    return Database(engine, sessions, sessions, direct, direct)


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with db.sessions() as session:
        yield session


@pytest.fixture
def app(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    return create_app(settings, db)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


@pytest.fixture
def credentials(settings: Settings) -> Credentials:
    return Credentials.from_settings(settings)


@pytest.fixture
def token_for(session: Session):  # type: ignore[no-untyped-def]
    """Return a function giving a fresh bearer token for a username."""

    def make(username: str, days: float = 1) -> str:
        user = service.get_user(session, username)
        token, _ = service.create_token(session, TEST_CONTEXT, user, days=days)
        session.commit()
        return token

    return make


@pytest.fixture
def auth(token_for):  # type: ignore[no-untyped-def]
    """Return a function giving Authorization headers for a username."""
    return lambda username: {"Authorization": f"Bearer {token_for(username)}"}


@pytest.fixture
def fresh_database(tmp_path: Path, database_url: str, settings: Settings) -> Iterator[Settings]:
    """A separate, committed database for tests that run commands as separate programs.

    Returns settings pointing at it (also exported as ATALAYA_* by ``cli_env``).
    """
    if is_postgres(database_url):
        name = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(_with_driver(database_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = database_url.rsplit("/", 1)[0] + f"/{name}"
    else:
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    fresh = make_settings(url, tmp_path / "var")
    engine = make_engine(fresh)
    prepare(engine, fresh)
    engine.dispose()
    yield fresh
    if is_postgres(database_url):
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _with_driver(url: str) -> str:
    return "postgresql+psycopg://" + url.removeprefix("postgresql://")


@pytest.fixture
def cli_env(fresh_database: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point ``atalaya`` commands run in-process at ``fresh_database``."""
    monkeypatch.setenv("ATALAYA_DATABASE_URL", fresh_database.database_url)
    monkeypatch.setenv("ATALAYA_DATA_DIR", str(fresh_database.data_dir))
    monkeypatch.setenv("ATALAYA_SECRET_KEY", "test-secret-key-not-for-production")
    monkeypatch.setenv("ATALAYA_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("ATALAYA_ARGON2_MEMORY_KIB", "1024")
    return fresh_database


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server_log(tmp_path: Path) -> Path:
    """Where ``live_server`` writes its standard error (its log)."""
    return tmp_path / "serve.log"


@pytest.fixture
def live_server(cli_env: Settings, server_log: Path) -> Iterator[str]:
    """Start ``atalaya serve --workers 2`` on a free port; yield its URL; stop it after.
    Its log goes to ``server_log``."""
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    log = server_log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "atalaya", "serve", "--port", str(port), "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            process.terminate()
            raise RuntimeError(f"server did not start: {server_log.read_text()[-2000:]}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
