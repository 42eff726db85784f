"""Storing many new incidents at once: the same rules and columns as one at a time,
written with one multi-row statement per table.

A record is first *staged* (``stage``): checked against every rule that needs no
database, and turned into the rows it will write. ``store_staged`` then checks what
needs the database (the area exists, the agency may record there), gives the rows
their ids and writes them table by table, parents before children, in the caller's
transaction. The column values come from the functions the one-at-a-time path uses
(``service.incident_values`` and the rest), so both store exactly the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, text
from sqlalchemy.orm import Session

from atalaya.accounts.authz import Principal, Scope, authorize
from atalaya.db import Prepared, utcnow
from atalaya.errors import DomainError, FieldError
from atalaya.geo.models import Area
from atalaya.matching.names import keys
from atalaya.observatory import derived
from atalaya.records import service
from atalaya.records.models import (
    Firearm,
    IdentityDocument,
    Incident,
    IncidentVersion,
    Involvement,
    Offence,
    PersonNameKey,
    Vehicle,
)
from atalaya.records.rules import validate
from atalaya.records.schema import IncidentIn

Row = dict[str, Any]


@dataclass(frozen=True)
class Staged:
    """A record that passed every rule needing no database, and the rows it writes
    (without ids, agency or the area's path, which storing adds)."""

    reference: str
    area: str
    restricted: bool
    record: dict[str, Any]  # the record as JSON: what its version keeps
    incident: Row
    offences: list[Row]
    persons: list[Row]
    person_keys: list[list[str]]  # the name keys of each person
    vehicles: list[Row]
    firearms: list[Row]
    documents: list[Row]


def stage(record: IncidentIn) -> Staged | list[FieldError]:
    """Return ``record`` staged for storing, or the rules it breaks."""
    errors = validate(record)
    if errors:
        return errors
    dumped = record.model_dump(mode="json")
    persons = service.person_values(dumped)
    return Staged(
        reference=record.reference,
        area=record.area,
        restricted=record.restricted,
        record=dumped,
        incident=service.incident_values(record),
        offences=service.offence_values(record, dumped),
        persons=persons,
        person_keys=[sorted(keys(p["given_names"], p["surnames"])) for p in persons],
        vehicles=service.vehicle_values(dumped),
        firearms=service.firearm_values(dumped),
        documents=service.document_values(dumped),
    )


@dataclass(frozen=True)
class Refused:
    index: int  # position in the list given to ``store_staged``
    errors: list[FieldError]


def store_staged(
    session: Session, principal: Principal, records: Sequence[Staged]
) -> list[Refused]:
    """Store staged ``records`` (new references of ``principal``'s agency) as version 1.

    Returns the records refused, with their errors; the others are written (flushed in
    the session's transaction, not committed, not audited).
    """
    authorize(principal, "record.create")
    areas = _areas(session, {r.area for r in records})
    refused: list[Refused] = []
    accepted: list[tuple[Staged, Area]] = []
    for index, record in enumerate(records):
        area = areas.get(record.area)
        if area is None:
            refused.append(Refused(index, [FieldError("area", "REC-118")]))
            continue
        try:
            authorize(principal, "record.create", Scope(area.path))
        except DomainError as error:
            refused.append(Refused(index, [FieldError("area", error.code)]))
            continue
        accepted.append((record, area))
    if accepted:
        _write(session, principal, accepted)
    return refused


def _areas(session: Session, codes: set[str]) -> dict[str, Area]:
    if not codes:
        return {}
    return {a.code: a for a in session.scalars(select(Area).where(Area.code.in_(codes)))}


def _write(session: Session, principal: Principal, accepted: list[tuple[Staged, Area]]) -> None:
    now = utcnow()
    incident_ids = _allocate_ids(session, Incident.__table__, len(accepted))
    person_ids = iter(
        _allocate_ids(session, Involvement.__table__, sum(len(r.persons) for r, _ in accepted))
    )
    agency = principal.agency_id
    incidents: list[Row] = []
    offences: list[Row] = []
    persons: list[Row] = []
    name_keys: list[Row] = []
    vehicles: list[Row] = []
    firearms: list[Row] = []
    documents: list[Row] = []
    versions: list[Row] = []
    for incident_id, (record, area) in zip(incident_ids, accepted, strict=True):
        incidents.append(
            {
                **record.incident,
                "id": incident_id,
                "area_path": area.path,
                "agency_id": agency,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        of_incident = {"incident_id": incident_id}
        offences += [{**row, **of_incident} for row in record.offences]
        vehicles += [{**row, **of_incident} for row in record.vehicles]
        firearms += [{**row, **of_incident} for row in record.firearms]
        documents += [{**row, **of_incident} for row in record.documents]
        for person, person_keys in zip(record.persons, record.person_keys, strict=True):
            person_id = next(person_ids)
            persons.append({**person, **of_incident, "id": person_id})
            name_keys += [
                {
                    "key": key,
                    "involvement_id": person_id,
                    "area_path": area.path,
                    "restricted": record.restricted,
                    "agency_id": agency,
                }
                for key in person_keys
            ]
        versions.append(
            {
                **of_incident,
                "version": 1,
                "record": record.record,
                "changed_at": now,
                "changed_by": principal.username,
                "agency_code": principal.agency_code,
            }
        )
    # In key order, the batch's keys go into the key index as one sweep through it
    # instead of a jump for each.
    name_keys.sort(key=itemgetter("key"))
    connection = session.connection()
    for table, rows in (
        (Incident.__table__, incidents),
        (Offence.__table__, offences),
        (Involvement.__table__, persons),
        (PersonNameKey.__table__, name_keys),
        (Vehicle.__table__, vehicles),
        (Firearm.__table__, firearms),
        (IdentityDocument.__table__, documents),
        (IncidentVersion.__table__, versions),
    ):
        if rows:
            assert isinstance(table, Table)
            _insert(table, tuple(rows[0])).execute_many(connection, rows)
    # Counted in the observatory's indicators later (the worker, or the import's end).
    derived.defer(session, [row["id"] for row in incidents])


@cache
def _insert(table: Table, columns: tuple[str, ...]) -> Prepared:
    """The INSERT of ``columns`` into ``table``, compiled once per dialect.

    Every column a row leaves out keeps its database default (the ids of parts).
    """
    for column in table.columns:
        if column.name not in columns and not (column.primary_key or column.nullable):
            raise ValueError(f"{table.name}.{column.name} has no value")  # a programming error
    return Prepared(insert(table).values({name: bindparam(name) for name in columns}))


def _allocate_ids(session: Session, table: Any, count: int) -> list[int]:
    """Reserve ``count`` new ids of ``table`` in the session's write transaction.

    PostgreSQL hands them out from the column's sequence. On SQLite the transaction
    holds the database's only write lock (``BEGIN IMMEDIATE``), so the ids after the
    highest one are free until it commits.
    """
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        sequence = text(
            "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
        )
        return list(session.scalars(sequence, {"table": table.name, "n": count}))
    highest = session.scalar(select(func.coalesce(func.max(table.c.id), 0)))
    assert highest is not None
    return list(range(highest + 1, highest + 1 + count))
