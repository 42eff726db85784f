"""Writing incidents out: ``jsonl`` (lossless, importable again) and ``csv`` (one row
per offence, the incident's fields repeated, for spreadsheets)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import IO, Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from atalaya.records.models import Incident, IncidentVersion

CSV_COLUMNS = (
    "agency",
    "reference",
    "version",
    "occurred_from",
    "occurred_to",
    "reported_at",
    "area",
    "latitude",
    "longitude",
    "place_type",
    "status",
    "offence",
    "iccs",
    "national_scheme",
    "national_code",
    "attempted",
    "weapon",
    "context",
    "victims",
    "suspects",
    "arrested",
)


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
    """Write one row per offence (the documented ``CSV_COLUMNS``); return incidents written."""
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for incident, _ in _latest(session, stmt, batch):
        roles = [p.role for p in incident.persons]
        common = {
            "agency": incident.agency.code,
            "reference": incident.reference,
            "version": incident.version,
            "occurred_from": incident.occurred_from,
            "occurred_to": incident.occurred_to or "",
            "reported_at": incident.reported_at.isoformat() if incident.reported_at else "",
            "area": incident.area_code,
            "latitude": incident.latitude or "",
            "longitude": incident.longitude or "",
            "place_type": incident.place_type or "",
            "status": incident.status,
            "victims": roles.count("victim"),
            "suspects": roles.count("suspect"),
            "arrested": roles.count("arrested"),
        }
        for offence in incident.offences:
            writer.writerow(
                common
                | {
                    "offence": offence.position + 1,
                    "iccs": offence.iccs_code,
                    "national_scheme": offence.national_scheme or "",
                    "national_code": offence.national_code or "",
                    "attempted": "yes" if offence.attempted else "no",
                    "weapon": offence.weapon or "",
                    "context": offence.context or "",
                }
            )
        count += 1
    return count


WRITERS = {"jsonl": write_jsonl, "csv": write_csv}
