"""The audit log's hash chain: what it records, and that tampering is found."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from atalaya.audit import service as audit
from atalaya.audit.models import ArchivedAuditEntry, AuditEntry, AuditHead, RecentAuditEntry
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
    audit.archive(session.connection())
    write_entries(session, 1)
    for statement in (
        "UPDATE audit_entries SET action = 'x'",
        "DELETE FROM audit_entries",
        "UPDATE audit_recent SET action = 'x'",
    ):
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
        connection.execute(text("DROP TRIGGER audit_recent_no_update"))
    else:
        connection.execute(
            text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
        )
        connection.execute(
            text("ALTER TABLE audit_recent DISABLE TRIGGER audit_recent_append_only")
        )


# Entries are tampered with where they lie: still recent, or moved into the archive.
WHERE = pytest.mark.parametrize("table", ["audit_recent", "audit_entries"])


def written(session: Session, n: int, table: str) -> list[dict]:  # type: ignore[type-arg]
    entries = write_entries(session, n)
    if table == "audit_entries":
        audit.archive(session.connection())
        session.commit()
    return entries


@WHERE
def test_an_altered_entry_is_named(session: Session, connection: Connection, table: str) -> None:
    entries = written(session, 3, table)
    drop_guards(connection)
    connection.execute(
        text(f"UPDATE {table} SET object_id = 'forged' WHERE seq = :s"),
        {"s": entries[1]["seq"]},
    )
    session.expire_all()
    result = audit.verify(session)
    assert not result.ok
    assert result.broken_seq == entries[1]["seq"]
    assert "altered" in (result.problem or "")


@WHERE
def test_a_removed_entry_is_found(session: Session, connection: Connection, table: str) -> None:
    entries = written(session, 3, table)
    drop_guards(connection)
    connection.execute(text(f"DELETE FROM {table} WHERE seq = :s"), {"s": entries[1]["seq"]})
    session.expire_all()
    result = audit.verify(session)
    assert not result.ok and result.broken_seq == entries[2]["seq"]


@WHERE
def test_a_removed_tail_is_found(session: Session, connection: Connection, table: str) -> None:
    entries = written(session, 2, table)
    drop_guards(connection)
    connection.execute(text(f"DELETE FROM {table} WHERE seq = :s"), {"s": entries[-1]["seq"]})
    session.expire_all()
    assert not audit.verify(session).ok


@WHERE
def test_an_inserted_entry_is_found(session: Session, connection: Connection, table: str) -> None:
    entries = written(session, 2, table)
    last = entries[-1]["seq"]
    drop_guards(connection)
    connection.execute(text(f"UPDATE {table} SET seq = seq + 1 WHERE seq = :s"), {"s": last})
    forged = {c: entries[0][c] for c in audit.HASHED_FIELDS if c != "seq"}
    forged |= {"seq": last, "action": "forged", "hash": "0" * 64}
    model = ArchivedAuditEntry if table == "audit_entries" else RecentAuditEntry
    session.add(model(**forged))
    session.flush()
    session.expire_all()
    result = audit.verify(session)
    assert not result.ok and result.broken_seq == last


def test_an_entry_left_in_both_tables_is_found(session: Session, connection: Connection) -> None:
    entries = write_entries(session, 3)
    # A move that copied without deleting, or a copy put back: the sequence repeats.
    connection.execute(
        text(
            "INSERT INTO audit_entries (seq, at, actor_type, action, outcome, detail, "
            "prev_hash, hash) SELECT seq, at, actor_type, action, outcome, detail, "
            "prev_hash, hash FROM audit_recent WHERE seq = :s"
        ),
        {"s": entries[1]["seq"]},
    )
    session.expire_all()
    result = audit.verify(session)
    assert not result.ok and result.broken_seq == entries[1]["seq"]


def test_entries_move_to_the_archive_in_bulk_and_the_log_reads_the_same(
    session: Session,
) -> None:
    before = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    connection = session.connection()
    audit.archive(connection)
    drafts = [audit.draft(TEST_CONTEXT, "test.bulk", object_id=i) for i in range(10)]
    first = audit.append(connection, drafts[:4], archive_every=6)
    assert session.scalar(select(func.count()).select_from(RecentAuditEntry)) == 4
    second = audit.append(connection, drafts[4:], archive_every=6)
    # The second append took the recent entries past six: all ten moved, in order.
    assert session.scalar(select(func.count()).select_from(RecentAuditEntry)) == 0
    archived = session.scalars(
        select(ArchivedAuditEntry.seq).order_by(ArchivedAuditEntry.seq.desc()).limit(10)
    ).all()
    assert sorted(archived) == [e["seq"] for e in first + second]
    head = session.get(AuditHead, 1)
    assert head is not None and head.archived_seq == head.seq == second[-1]["seq"]
    third = audit.append(connection, drafts[:1], archive_every=6)
    assert session.scalars(select(RecentAuditEntry.seq)).all() == [third[0]["seq"]]
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == before + 11
    newest = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(3)).all()
    assert [e.seq for e in newest] == [third[0]["seq"], second[-1]["seq"], second[-2]["seq"]]
    assert newest[1].prev_hash == second[-2]["hash"]
    assert audit.verify(session).ok


def test_audit_verify_command_passes_then_fails_naming_the_entry(cli_env: Settings) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    from atalaya.db import make_engine

    engine = make_engine(cli_env)
    with engine.begin() as c:
        audit.archive(c)
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
