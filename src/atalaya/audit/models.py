"""The audit log: append-only entries, each holding the SHA-256 of the one before.

An entry is written to ``audit_recent``, a table with no index but its key, and moves
in bulk, with the few hundred before it, into ``audit_entries``, the indexed archive
(``service.append``). Each index leaf is then written once per move instead of once
per commit. Readers use ``AuditEntry``, both tables as one: an entry is in exactly one
of them at any moment, since a move is one transaction, and every archived ``seq`` is
below every recent one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, Subquery, Text, select, text, union_all
from sqlalchemy.orm import Mapped, mapped_column

from atalaya.db import Base, UTCDateTime

GENESIS_HASH = "0" * 64


class _EntryFields:
    """The columns of an entry, in both tables."""

    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    actor_username: Mapped[str | None] = mapped_column(String(64))
    agency_code: Mapped[str | None] = mapped_column(String(32))
    # The actor's jurisdiction when it acted; auditors see entries inside their own.
    area_path: Mapped[str | None] = mapped_column(String(200))
    token_id: Mapped[int | None] = mapped_column(Integer)
    peer_node: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ArchivedAuditEntry(_EntryFields, Base):
    """The archive. Rows are never updated or deleted (triggers refuse it)."""

    __tablename__ = "audit_entries"
    # Every index is paid for on every move, so only those an auditor's question or a
    # page needs: by sequence (pages), time, actor, action, outcome, "who touched this
    # object", and a token's last use. The area is matched by prefix, which no B-tree
    # index here would serve.
    __table_args__ = (
        Index("ix_audit_entries_at", "at"),
        Index("ix_audit_entries_actor_username", "actor_username"),
        Index("ix_audit_entries_action", "action"),
        Index("ix_audit_entries_outcome", "outcome"),
        Index("ix_audit_entries_object", "object_type", "object_id"),
        Index("ix_audit_entries_token_at", "token_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Gapless, assigned under the head lock: a removed row leaves a hole.
    seq: Mapped[int] = mapped_column(Integer, unique=True)


class RecentAuditEntry(_EntryFields, Base):
    """The newest entries, not yet archived. Rows are never updated (a trigger refuses
    it); they are deleted only by the move that archives them."""

    __tablename__ = "audit_recent"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


ENTRY_COLUMNS = ("seq", *(c for c in _EntryFields.__annotations__))


def _both(name: str) -> Subquery:
    archived, recent = ArchivedAuditEntry.__table__.c, RecentAuditEntry.__table__.c
    return union_all(
        select(*(archived[c] for c in ENTRY_COLUMNS)),
        select(*(recent[c] for c in ENTRY_COLUMNS)),
    ).subquery(name)


_LOG = _both("audit_log")


class AuditEntry(Base):
    """The whole log, archive and recent entries together: for reading only.

    Filters and ``ORDER BY seq`` reach both tables' own indexes (SQLite merges the two
    ordered scans; PostgreSQL appends them).
    """

    __table__ = _LOG
    __mapper_args__ = {"primary_key": [_LOG.c.seq]}

    seq: Mapped[int]
    at: Mapped[dt.datetime]
    actor_type: Mapped[str]
    actor_user_id: Mapped[int | None]
    actor_username: Mapped[str | None]
    agency_code: Mapped[str | None]
    area_path: Mapped[str | None]
    token_id: Mapped[int | None]
    peer_node: Mapped[str | None]
    action: Mapped[str]
    object_type: Mapped[str | None]
    object_id: Mapped[str | None]
    request_id: Mapped[str | None]
    client_address: Mapped[str | None]
    outcome: Mapped[str]
    detail: Mapped[str]
    prev_hash: Mapped[str]
    hash: Mapped[str]


class AuditHead(Base):
    """The newest entry's sequence and hash (one row), so a removed tail is noticed too,
    and the last sequence archived."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    archived_seq: Mapped[int] = mapped_column(Integer, server_default=text("0"))
