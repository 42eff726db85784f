"""The audit log's hash chain: what it records, and that tampering is found."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from atalaya.audit import service as audit
from atalaya.audit.models import AuditEntry
from atalaya.cli import app as cli
from atalaya.db import Database
from atalaya.settings import Settings
from conftest import TEST_CONTEXT


def write_entries(session: Session, n: int) -> list[dict]:  # type: ignore[type-arg]
    entries = [
        audit.record(session, TEST_CONTEXT, "test.write", object_type="thing", object_id=i)
        for i in range(n)
    ]
    session.commit()
    return entries


def test_each_entry_holds_the_hash_of_the_one_before(session: Session) -> None:
    first, second = write_entries(session, 2)
    assert second["prev_hash"] == first["hash"]
    assert second["seq"] == first["seq"] + 1
    assert audit.verify(session).ok


def test_an_untouched_log_verifies(session: Session) -> None:
    write_entries(session, 5)
    result = audit.verify(session)
    assert result.ok and result.checked >= 5


def test_the_database_refuses_updates_and_deletes_of_entries(
    session: Session, connection: Connection
) -> None:
    write_entries(session, 1)
    for statement in ("UPDATE audit_entries SET action = 'x'", "DELETE FROM audit_entries"):
        savepoint = connection.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            connection.execute(text(statement))
        savepoint.rollback()


def drop_guards(connection: Connection) -> None:
    """Remove the append-only triggers (inside the test's transaction), as an attacker with
    database rights could, to show the chain still tells."""
    if connection.dialect.name == "sqlite":
        connection.execute(text("DROP TRIGGER audit_entries_no_update"))
        connection.execute(text("DROP TRIGGER audit_entries_no_delete"))
    else:
        connection.execute(
            text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
        )


def test_an_altered_entry_is_named(session: Session, connection: Connection) -> None:
    entries = write_entries(session, 3)
    drop_guards(connection)
    connection.execute(
        text("UPDATE audit_entries SET object_id = 'forged' WHERE seq = :s"),
        {"s": entries[1]["seq"]},
    )
    session.expire_all()
    result = audit.verify(session)
    assert not result.ok
    assert result.broken_seq == entries[1]["seq"]
    assert "altered" in (result.problem or "")


def test_a_removed_entry_is_found(session: Session, connection: Connection) -> None:
    entries = write_entries(session, 3)
    drop_guards(connection)
    connection.execute(text("DELETE FROM audit_entries WHERE seq = :s"), {"s": entries[1]["seq"]})
    session.expire_all()
    result = audit.verify(session)
    assert not result.ok and result.broken_seq == entries[2]["seq"]


def test_a_removed_tail_is_found(session: Session, connection: Connection) -> None:
    entries = write_entries(session, 2)
    drop_guards(connection)
    connection.execute(text("DELETE FROM audit_entries WHERE seq = :s"), {"s": entries[-1]["seq"]})
    session.expire_all()
    assert not audit.verify(session).ok


def test_an_inserted_entry_is_found(session: Session, connection: Connection) -> None:
    entries = write_entries(session, 2)
    last = entries[-1]["seq"]
    drop_guards(connection)
    connection.execute(text("UPDATE audit_entries SET seq = seq + 1 WHERE seq = :s"), {"s": last})
    forged = {c: entries[0][c] for c in audit.HASHED_FIELDS if c != "seq"}
    forged |= {"seq": last, "action": "forged", "hash": "0" * 64}
    session.add(AuditEntry(**forged))
    session.flush()
    session.expire_all()
    result = audit.verify(session)
    assert not result.ok and result.broken_seq == last


def test_audit_verify_command_passes_then_fails_naming_the_entry(cli_env: Settings) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    from atalaya.db import make_engine

    engine = make_engine(cli_env)
    with engine.begin() as c:
        drop_guards(c)
        c.execute(text("UPDATE audit_entries SET outcome = 'denied' WHERE seq = 3"))
    broken = runner.invoke(cli, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "AUD-101" in broken.output and "entry 3" in broken.output
    with engine.begin() as c:
        c.execute(text("DELETE FROM audit_entries WHERE seq = 3"))
    removed = runner.invoke(cli, ["audit", "verify"])
    assert removed.exit_code == 1 and "entry 4" in removed.output
    engine.dispose()


def test_logins_failures_reads_and_writes_are_all_recorded(client, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    from atalaya.demo import DEMO_PASSWORD

    client.post("/api/v1/auth/token", json={"username": "alice", "password": "nope-nope"})
    client.post("/api/v1/auth/token", json={"username": "alice", "password": DEMO_PASSWORD})
    headers = auth("diana")
    client.get("/api/v1/users/alice", headers=headers)
    client.post("/api/v1/tokens", json={"days": 1}, headers=headers)
    rows = session.execute(
        select(AuditEntry.action, AuditEntry.outcome, AuditEntry.actor_username).order_by(
            AuditEntry.seq
        )
    ).all()
    assert ("login", "failed", None) in rows
    assert ("login", "success", "alice") in rows
    assert ("user.read", "success", "diana") in rows
    assert ("token.create", "success", "diana") in rows
    assert audit.verify(session).ok


def test_concurrent_reads_share_one_audit_transaction(db, session: Session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    batches: list[int] = []
    real_append = audit.append

    def counting_append(s, drafts, **options):  # type: ignore[no-untyped-def]
        batches.append(len(drafts))
        return real_append(s, drafts, **options)

    monkeypatch.setattr(audit, "append", counting_append)
    writer = audit.AuditWriter(db.writer)

    async def ten_reads() -> None:
        entries = [audit.draft(TEST_CONTEXT, "user.read", object_id=i) for i in range(10)]
        await asyncio.gather(*(writer.write(e) for e in entries))

    asyncio.run(ten_reads())
    assert batches == [10]
    assert audit.verify(session).ok


def test_a_failed_audit_write_fails_every_waiting_read(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    def broken_append(s, drafts, **options):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "append", broken_append)
    writer = audit.AuditWriter(db.writer)

    async def two_reads() -> list[object]:
        entries = [audit.draft(TEST_CONTEXT, "user.read", object_id=i) for i in range(2)]
        return await asyncio.gather(*(writer.write(e) for e in entries), return_exceptions=True)

    results = asyncio.run(two_reads())
    assert [str(r) for r in results] == ["disk full", "disk full"]


def test_a_read_is_not_answered_when_its_audit_entry_cannot_be_written(
    app, auth, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    client = TestClient(app, raise_server_exceptions=False)
    headers = auth("alice")

    def broken_append(s, drafts, **options):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "append", broken_append)
    response = client.get("/api/v1/users/alice", headers=headers)
    assert response.status_code == 500
    assert response.json()["code"] == "API-500"
    assert "Alicia" not in response.text


def run_with_deadline(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``scenario`` on an event loop of its own; fail, rather than hang, if it stops."""
    finished: list[bool] = []

    def run() -> None:
        asyncio.run(scenario())
        finished.append(True)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(20)
    assert finished, "the event loop stopped: a writer waited for the log on it"


def test_a_read_is_recorded_while_a_write_on_the_same_worker_holds_the_log(
    fresh_database: Settings,
) -> None:
    db = Database.from_settings(fresh_database)
    writer = audit.AuditWriter(db.writer)

    async def scenario() -> None:
        with db.sessions() as session:
            # Holds the log: SQLite's writers' lock, or PostgreSQL's head row.
            audit.record(session, TEST_CONTEXT, "test.write")
            read = asyncio.create_task(writer.write(audit.draft(TEST_CONTEXT, "user.read")))
            await asyncio.sleep(0.05)  # the request awaits something, its transaction open
            assert not read.done()
            session.commit()
        await read

    run_with_deadline(scenario)
    with db.sessions() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
        assert actions[-2:] == ["test.write", "user.read"]
        assert audit.verify(session).ok
    db.engine.dispose()
