"""The audit log: append-only entries, each holding the SHA-256 of the one before."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from atalaya.db import Base, UTCDateTime

GENESIS_HASH = "0" * 64


class AuditEntry(Base):
    """One thing that happened. Rows are never updated or deleted (triggers refuse it)."""

    __tablename__ = "audit_entries"
    # Every index is paid for on every append (reads included), so only those an
    # auditor's question or a page needs: by sequence (pages), time, actor, action,
    # outcome, "who touched this object", and a token's last use. The area is matched
    # by prefix, which no B-tree index here would serve.
    __table_args__ = (
        Index("ix_audit_entries_object", "object_type", "object_id"),
        Index("ix_audit_entries_token_at", "token_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Gapless, assigned under the head lock: a removed row leaves a hole.
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    actor_username: Mapped[str | None] = mapped_column(String(64), index=True)
    agency_code: Mapped[str | None] = mapped_column(String(32))
    # The actor's jurisdiction when it acted; auditors see entries inside their own.
    area_path: Mapped[str | None] = mapped_column(String(200))
    token_id: Mapped[int | None] = mapped_column(Integer)
    peer_node: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    detail: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The newest entry's sequence and hash (one row), so a removed tail is noticed too."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
