"""Importing incidents in batches: all or nothing per batch, idempotent, with a report.

Each batch is one transaction, so a run that is interrupted or killed leaves whole
batches behind and never half of one; running the same file again skips what is
already there (same agency and reference, same content) and stores the rest. Records
that break a rule are left out and reported with their rule codes.

Records are read and staged (``bulk.stage``: the rules that need no database, and the
rows each will write) before they are stored, in batches, with what needs the database
(areas, duplicates, the agency's rights).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.accounts.authz import Principal
from atalaya.audit import service as audit
from atalaya.audit.service import AuditContext
from atalaya.errors import DomainError, FieldError
from atalaya.geo.models import Area
from atalaya.records.bulk import Staged, stage, store_staged
from atalaya.records.models import Incident, IncidentVersion
from atalaya.records.schema import IncidentIn
from atalaya.records.service import update_incident

# Where a record came from in its file ("line 12", "row 4031"), and the record, or
# why it could not even be read.
SourceRecord = tuple[str, IncidentIn | list[FieldError]]


@dataclass(frozen=True)
class StagedRecord:
    """A record as read and staged: where it came from, its reference and area (when it
    could be read), and the staged record or the errors found so far."""

    where: str
    reference: str | None
    area: str | None
    outcome: Staged | list[FieldError]


@dataclass
class Rejection:
    where: str
    reference: str | None
    errors: list[FieldError]


@dataclass
class ImportReport:
    read: int = 0
    stored: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)


def import_records(
    sessions: Callable[[], Session],
    principal: Principal,
    ctx: AuditContext,
    records: Iterable[SourceRecord],
    *,
    batch_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Store ``records`` for ``principal``'s agency, one transaction per batch."""
    return import_staged(
        sessions, principal, ctx, staged(records), batch_size=batch_size, progress=progress
    )


def staged(records: Iterable[SourceRecord]) -> Iterator[StagedRecord]:
    """Stage each record that could be read; pass on the errors of those that could not."""
    for where, record in records:
        if isinstance(record, IncidentIn):
            yield StagedRecord(where, record.reference, record.area, stage(record))
        else:
            yield StagedRecord(where, None, None, record)


def import_staged(
    sessions: Callable[[], Session],
    principal: Principal,
    ctx: AuditContext,
    records: Iterable[StagedRecord],
    *,
    batch_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Store staged ``records`` for ``principal``'s agency, one transaction per batch."""
    report = ImportReport()
    for number, batch in enumerate(_batches(records, batch_size), 1):
        with sessions() as session:
            _import_batch(session, principal, ctx, batch, report)
            audit.record(
                session,
                ctx,
                "records.import",
                object_type="incident",
                detail={"batch": number, "records": len(batch)},
            )
            session.commit()
        done = len(batch)
        del batch  # the batch is gone before ``progress`` runs (it may collect garbage)
        report.read += done
        if progress:
            progress(done)
    return report


def _batches(records: Iterable[StagedRecord], size: int) -> Iterator[list[StagedRecord]]:
    iterator = iter(records)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _import_batch(
    session: Session,
    principal: Principal,
    ctx: AuditContext,
    batch: list[StagedRecord],
    report: ImportReport,
) -> None:
    references = [r.reference for r in batch if r.reference]
    existing = _existing(session, principal.agency_id, references)
    known_areas = _known_areas(session, {r.area for r in batch if r.area})
    seen: set[str] = set()
    new: list[tuple[str, Staged]] = []
    for read in batch:
        where, record = read.where, read.outcome
        if not isinstance(record, Staged):
            # All of a record's errors come back together: an unknown area too.
            if read.area and read.area not in known_areas:
                record = [*record, FieldError("area", "REC-118")]
            report.rejected.append(Rejection(where, read.reference, record))
            continue
        if record.reference in seen:
            report.rejected.append(
                Rejection(where, record.reference, [FieldError("reference", "REC-112")])
            )
            continue
        seen.add(record.reference)
        current = existing.get(record.reference)
        if current is None:
            new.append((where, record))
            continue
        try:
            _update(session, principal, ctx, record, current, report)
        except DomainError as error:
            errors = error.errors or [FieldError(error.field or "record", error.code)]
            report.rejected.append(Rejection(where, record.reference, errors))
    # The new records go in together; a refused one writes nothing.
    refused = store_staged(session, principal, [record for _, record in new])
    for refusal in refused:
        where, record = new[refusal.index]
        report.rejected.append(Rejection(where, record.reference, refusal.errors))
    report.stored += len(new) - len(refused)


def _update(
    session: Session,
    principal: Principal,
    ctx: AuditContext,
    record: Staged,
    current: tuple[Incident, dict[str, object]],
    report: ImportReport,
) -> None:
    incident, latest = current
    if latest == record.record:
        report.unchanged += 1
        return
    update_incident(session, ctx, principal, incident, IncidentIn.model_validate(record.record))
    report.updated += 1


def _known_areas(session: Session, codes: set[str]) -> set[str]:
    if not codes:
        return set()
    return set(session.scalars(select(Area.code).where(Area.code.in_(codes))))


def _existing(
    session: Session, agency_id: int, references: list[str]
) -> dict[str, tuple[Incident, dict[str, object]]]:
    """Return the batch's references already stored, with their latest recorded content."""
    if not references:
        return {}
    rows = session.execute(
        select(Incident, IncidentVersion.record)
        .join(
            IncidentVersion,
            (IncidentVersion.incident_id == Incident.id)
            & (IncidentVersion.version == Incident.version),
        )
        .where(Incident.agency_id == agency_id, Incident.reference.in_(references))
    ).all()
    return {incident.reference: (incident, record) for incident, record in rows}
