"""Writing incidents out: ``jsonl`` (lossless, importable again) and ``csv`` (one row
per incident, for spreadsheets, importable again too)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import IO, Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from atalaya.cells import neutralise
from atalaya.records import csv_format
from atalaya.records.models import (
    Firearm,
    IdentityDocument,
    Incident,
    IncidentVersion,
    Involvement,
    Offence,
    Vehicle,
)

# The table of each repeated part, to find how many column groups an export needs.
PART_TABLES = {
    "offences": Offence.__table__,
    "persons": Involvement.__table__,
    "vehicles": Vehicle.__table__,
    "firearms": Firearm.__table__,
    "documents": IdentityDocument.__table__,
}


def _latest(
    session: Session, stmt: Select[Incident], batch: int
) -> Iterator[tuple[Incident, dict[str, Any]]]:
    """Yield each incident with its current recorded content, in id order, in batches."""
    last_id = 0
    while True:
        page = session.execute(
            select(Incident, IncidentVersion.record)
            .join(
                IncidentVersion,
                (IncidentVersion.incident_id == Incident.id)
                & (IncidentVersion.version == Incident.version),
            )
            .where(Incident.id.in_(stmt.with_only_columns(Incident.id).scalar_subquery()))
            .where(Incident.id > last_id)
            .order_by(Incident.id)
            .limit(batch)
        ).all()
        if not page:
            return
        yield from ((incident, record) for incident, record in page)
        last_id = page[-1][0].id
        session.expunge_all()


def write_jsonl(session: Session, stmt: Select[Incident], out: IO[str], batch: int = 500) -> int:
    """Write each incident as the record it was last stored from; return how many."""
    count = 0
    for _, record in _latest(session, stmt, batch):
        out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        count += 1
    return count


def write_csv(session: Session, stmt: Select[Incident], out: IO[str], batch: int = 500) -> int:
    """Write one row per incident, as last recorded, in the layout ``records import
    --format csv`` reads (``csv_format``, docs/records.md); return how many."""
    groups = _most_parts(session, stmt)
    writer = csv.DictWriter(out, csv_format.columns(groups), lineterminator="\n")
    writer.writeheader()
    count = 0
    for incident, record in _latest(session, stmt, batch):
        export_only = {"agency": neutralise(incident.agency.code), "version": incident.version}
        writer.writerow(csv_format.cells(record) | export_only)
        count += 1
    return count


def _most_parts(session: Session, stmt: Select[Incident]) -> dict[str, int]:
    """Return, for each part, the most any incident of ``stmt`` has, and at least one,
    so that every export shows every part's columns."""
    ids = stmt.with_only_columns(Incident.id).scalar_subquery()
    most = {}
    for key, table in PART_TABLES.items():
        top = select(func.max(table.c.position)).where(table.c.incident_id.in_(ids))
        position = session.scalar(top)
        most[key] = 1 if position is None else position + 1
    return most


WRITERS = {"jsonl": write_jsonl, "csv": write_csv}
