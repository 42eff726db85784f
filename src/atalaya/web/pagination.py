"""Lists: ``{"items": [...], "total": N, "next": cursor-or-null}`` with keyset cursors.

A cursor is opaque to clients: the base64 of the last key seen. Lists run newest
(highest key) first, so new rows never shift a page a client is walking.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Path
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from atalaya.errors import DomainError

T = TypeVar("T")
MAX_LIMIT = 500
# Row ids are 32-bit integers in both engines; anything larger names no row.
MAX_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    next: str | None


def encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(str(key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        key = int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise DomainError("API-108", field="cursor") from None
    if not 0 < key <= MAX_ID:
        raise DomainError("API-108", field="cursor")
    return key


def paginate(
    session: Session,
    stmt: Select[Any],
    key: InstrumentedAttribute[int],
    cursor: str | None,
    limit: int,
    to_item: Callable[[Any], T],
) -> Page[T]:
    """Return one page of ``stmt`` ordered by ``key`` descending, after ``cursor``."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    if cursor:
        stmt = stmt.where(key < decode_cursor(cursor))
    rows: Sequence[Any] = session.scalars(stmt.order_by(key.desc()).limit(limit + 1)).all()
    items = [to_item(r) for r in rows[:limit]]
    next_cursor = encode_cursor(getattr(rows[limit - 1], key.key)) if len(rows) > limit else None
    return Page[T](items=items, total=total, next=next_cursor)
