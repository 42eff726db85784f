"""Writing to the audit log, reading it back, and verifying its hash chain."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import Connection, Select, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from atalaya.audit.models import (
    ENTRY_COLUMNS,
    GENESIS_HASH,
    ArchivedAuditEntry,
    AuditEntry,
    AuditHead,
    RecentAuditEntry,
)
from atalaya.db import DirectConnection, Prepared, lock_refused, utcnow

HASHED_FIELDS = (
    "seq",
    "at",
    "actor_type",
    "actor_user_id",
    "actor_username",
    "agency_code",
    "area_path",
    "token_id",
    "peer_node",
    "action",
    "object_type",
    "object_id",
    "request_id",
    "client_address",
    "outcome",
    "detail",
    "prev_hash",
)


class Outcome(StrEnum):
    SUCCESS = "success"
    DENIED = "denied"
    FAILED = "failed"


@dataclass(frozen=True)
class Actor:
    """Who did something, as the audit log records it."""

    type: str  # user, token, anonymous, peer, cli
    user_id: int | None = None
    username: str | None = None
    agency_code: str | None = None
    area_path: str | None = None
    token_id: int | None = None
    peer_node: str | None = None


ANONYMOUS = Actor("anonymous")


@dataclass(frozen=True)
class AuditContext:
    """The actor and the request an action belongs to."""

    actor: Actor = ANONYMOUS
    request_id: str | None = None
    client_address: str | None = None


def draft(
    ctx: AuditContext,
    action: str,
    *,
    object_type: str | None = None,
    object_id: object = None,
    outcome: Outcome = Outcome.SUCCESS,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the values of an entry not yet placed in the chain (no seq or hashes)."""
    actor = ctx.actor
    return {
        "at": utcnow(),
        "actor_type": actor.type,
        "actor_user_id": actor.user_id,
        "actor_username": actor.username,
        "agency_code": actor.agency_code,
        "area_path": actor.area_path,
        "token_id": actor.token_id,
        "peer_node": actor.peer_node,
        "action": action,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "request_id": ctx.request_id,
        "client_address": ctx.client_address,
        "outcome": str(outcome),
        "detail": canonical_json(detail) if detail else "{}",
    }


_HEAD_ROW = select(AuditHead.seq, AuditHead.hash, AuditHead.archived_seq).where(AuditHead.id == 1)
_HEAD = Prepared(_HEAD_ROW.with_for_update())
# For the group writer, which must not wait for a lock on the event loop: if another
# transaction holds the head, PostgreSQL refuses at once and the writer tries again.
_HEAD_NOWAIT = Prepared(_HEAD_ROW.with_for_update(nowait=True))
_INSERT = Prepared(insert(RecentAuditEntry).values({c: bindparam(c) for c in ENTRY_COLUMNS}))
_MOVE_HEAD = Prepared(
    update(AuditHead)
    .where(AuditHead.id == 1)
    .values(seq=bindparam("s"), hash=bindparam("h"), archived_seq=bindparam("a"))
)
_RECENT = RecentAuditEntry.__table__.c
_ARCHIVE = Prepared(
    insert(ArchivedAuditEntry).from_select(
        list(ENTRY_COLUMNS),
        select(*(_RECENT[c] for c in ENTRY_COLUMNS)).order_by(_RECENT.seq),
    )
)
_CLEAR_RECENT = Prepared(delete(RecentAuditEntry))

# How many recent entries an append lets gather before it moves them into the archive.
# Each move writes every index leaf once for all of them; a batch of the group writer
# would write each once per commit. A move of 512 entries takes 2–3 ms.
ARCHIVE_EVERY = 512


def append(
    connection: Connection | DirectConnection,
    drafts: Sequence[dict[str, Any]],
    *,
    wait: bool = True,
    archive_every: int | None = None,
) -> list[dict[str, Any]]:
    """Chain ``drafts`` onto the log within ``connection``'s transaction; return the entries.

    The head row is locked (``FOR UPDATE``; SQLite serialises writers itself) so that
    concurrent requests from several processes form one unbroken chain. Without
    ``wait``, a head locked by another transaction raises at once (``lock_refused``).

    Entries go to the recent table; once ``archive_every`` of them have gathered there,
    the same transaction moves them all into the archive (``models``).
    """
    ((seq, prev_hash, archived),) = (_HEAD if wait else _HEAD_NOWAIT).rows(connection)
    entries = []
    for values in drafts:
        seq += 1
        entry = {**values, "seq": seq, "prev_hash": prev_hash}
        entry["hash"] = prev_hash = entry_hash(entry)
        entries.append(entry)
    _INSERT.execute_many(connection, entries)
    if seq - archived >= (ARCHIVE_EVERY if archive_every is None else archive_every):
        _archive(connection)
        archived = seq
    _MOVE_HEAD.rows(connection, s=seq, h=prev_hash, a=archived)
    return entries


def _archive(connection: Connection | DirectConnection) -> None:
    # Under the head's lock no entry is being added: every recent one moves.
    _ARCHIVE.rows(connection)
    _CLEAR_RECENT.rows(connection)


def archive(connection: Connection | DirectConnection) -> int:
    """Move every recent entry into the archive now, within ``connection``'s
    transaction; return the last sequence archived."""
    ((seq, prev_hash, _),) = _HEAD.rows(connection)
    _archive(connection)
    _MOVE_HEAD.rows(connection, s=seq, h=prev_hash, a=seq)
    return int(seq)


def record(session: Session, ctx: AuditContext, action: str, **fields: Any) -> dict[str, Any]:
    """Append one entry within ``session``'s transaction, so it stands or falls with the
    change it describes; return it. ``fields`` are those of ``draft``."""
    return append(session.connection(), [draft(ctx, action, **fields)])[0]


class AuditWriter:
    """Appends entries that describe reads, in their own transactions, with group commit.

    Requests run on the worker's event loop. Each awaits ``write`` until its entry is
    committed, so nothing is shown before its read is on record. Entries queued while
    the loop serves other requests are written together by one task, in one
    transaction on the process's own write connection: one head lock and one commit for
    many entries instead of one each.
    """

    def __init__(self, connection: DirectConnection) -> None:
        self._connection = connection
        self._queue: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def write(self, values: dict[str, Any]) -> None:
        """Append one entry; return once it is committed, raise if writing failed."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.append((values, done))
        task = self._task
        if task is None or task.done() or task.get_loop() is not loop:
            self._task = loop.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        # Let the requests that are already under way reach their audit entries first.
        for _ in range(BATCH_PATIENCE):
            await asyncio.sleep(0)
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await self._append([values for values, _ in batch])
            except Exception as error:  # handed to every waiting request, which raises it
                for _, done in batch:
                    done.set_exception(error)
            else:
                for _, done in batch:
                    done.set_result(None)
            await asyncio.sleep(0)

    async def _append(self, drafts: list[dict[str, Any]]) -> None:
        """Append ``drafts`` in one transaction. While another transaction holds the
        head, try again after a growing pause: the loop serves other requests meanwhile,
        and the holder may be one of them."""
        pause = 0.0
        while True:
            try:
                async with self._connection.transaction():
                    append(self._connection, drafts, wait=False)
                return
            except Exception as error:
                if not lock_refused(error):
                    raise
            await asyncio.sleep(pause)
            pause = min(max(pause * 2, RETRY_PAUSE_FIRST), RETRY_PAUSE_MAX)


# How many turns of the event loop the writer waits for more entries before writing.
BATCH_PATIENCE = 2
# Pauses of a writer that found the head locked, at first and at most (seconds).
RETRY_PAUSE_FIRST = 0.0001
RETRY_PAUSE_MAX = 0.002


# The canonical form: ``json`` with sorted keys, no spaces, characters as they are, and
# ``str()`` of anything else. One encoder for every entry: ``json.dumps`` with options
# builds a new one each call.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
)
# A flat object of these exact types comes out of orjson byte for byte as above (a test
# compares the two over every Unicode scalar value), four times faster; anything else,
# or anything orjson refuses (an integer past 64 bits, a lone surrogate), goes to json.
_PLAIN = frozenset({str, int, bool, type(None)})


def canonical_bytes(value: Any) -> bytes:
    """Return ``value`` in the canonical JSON form the chain's hashes are taken over."""
    if type(value) is dict and all(type(v) in _PLAIN for v in value.values()):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            pass
    return _CANONICAL.encode(value).encode()


def canonical_json(value: Any) -> str:
    return canonical_bytes(value).decode()


def entry_hash(entry: Mapping[str, Any]) -> str:
    """Return the SHA-256 (hex) over the entry's fields, ``prev_hash`` included.

    ``at`` is hashed as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC.
    """
    values: dict[str, Any] = {name: entry[name] for name in HASHED_FIELDS}
    at: dt.datetime = values["at"]
    values["at"] = at.astimezone(dt.UTC).replace(tzinfo=None).isoformat("T", "microseconds") + "Z"
    return hashlib.sha256(canonical_bytes(values)).hexdigest()


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    broken_seq: int | None = None
    problem: str | None = None


def verify(session: Session, batch: int = 1000) -> Verification:
    """Walk the whole chain; return where it first breaks, if it does.

    Catches an altered row (its hash no longer matches), a removed row (a gap in
    ``seq`` or a ``prev_hash`` that points elsewhere), an inserted row, and a removed
    tail (the head no longer matches the last entry).
    """
    prev_hash, expected_seq, checked = GENESIS_HASH, 1, 0
    for entry in _entries_in_order(session, batch):
        problem = _check(entry, expected_seq, prev_hash)
        if problem:
            return Verification(False, checked, entry.seq, problem)
        prev_hash, expected_seq, checked = entry.hash, entry.seq + 1, checked + 1
    # Read, not ``session.get``: an object the session holds could be older.
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    if head is None or head.seq != expected_seq - 1 or head.hash != prev_hash:
        return Verification(
            False,
            checked,
            expected_seq,
            "the log ends before its recorded head: entries at the end were removed",
        )
    return Verification(True, checked)


def _check(entry: AuditEntry, expected_seq: int, prev_hash: str) -> str | None:
    if entry.seq != expected_seq:
        return f"expected sequence {expected_seq}, found {entry.seq}: entries are missing"
    if entry.prev_hash != prev_hash:
        return "its previous-hash does not match the entry before it"
    if entry_hash({f: getattr(entry, f) for f in HASHED_FIELDS}) != entry.hash:
        return "its contents do not match its hash: the entry was altered"
    return None


def _entries_in_order(session: Session, batch: int) -> Iterator[AuditEntry]:
    last_seq = 0
    while True:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.seq > last_seq)
            .order_by(AuditEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last_seq = rows[-1].seq


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    outcome: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def query(area_prefix: str, flt: AuditFilter, root_jurisdiction: bool) -> Select[AuditEntry]:
    """Return a select of entries an auditor with ``area_prefix`` may read, newest first.

    Entries with no area (anonymous attempts, command-line work) are shown only to
    auditors whose jurisdiction is a whole country.
    """
    visible = AuditEntry.area_path.startswith(area_prefix, autoescape=True)
    if root_jurisdiction:
        visible = visible | AuditEntry.area_path.is_(None)
    stmt = select(AuditEntry).where(visible)
    for column, value in (
        (AuditEntry.actor_username, flt.actor),
        (AuditEntry.action, flt.action),
        (AuditEntry.object_type, flt.object_type),
        (AuditEntry.object_id, flt.object_id),
        (AuditEntry.outcome, flt.outcome),
    ):
        if value:
            stmt = stmt.where(column == value)
    if flt.since:
        stmt = stmt.where(AuditEntry.at >= flt.since)
    if flt.until:
        stmt = stmt.where(AuditEntry.at < flt.until)
    return stmt
