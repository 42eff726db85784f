"""Storing many new incidents at once: the same rules and columns as one at a time,
written with one multi-row statement per table.

``atalaya.records.imports`` sends the new records of each batch here. The rules run
first, record by record (a record that breaks one is returned with its errors and
writes nothing); the records that pass are written table by table, parents before
children, in the caller's transaction. The column values come from the functions the
one-at-a-time path uses (``service.incident_values`` and the rest), so both store
exactly the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, text
from sqlalchemy.orm import Session

from atalaya.accounts.authz import Principal, Scope, authorize
from atalaya.db import Prepared, utcnow
from atalaya.errors import DomainError, FieldError
from atalaya.geo.models import Area
from atalaya.matching.names import keys
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


@dataclass(frozen=True)
class Refused:
    index: int  # position in the list given to ``store_new``
    errors: list[FieldError]


def store_new(
    session: Session, principal: Principal, records: Sequence[IncidentIn]
) -> list[Refused]:
    """Store ``records`` (new references of ``principal``'s agency) as version 1.

    Returns the records refused, with their errors; the others are written (flushed in
    the session's transaction, not committed, not audited).
    """
    authorize(principal, "record.create")
    areas = _areas(session, {r.area for r in records if r.area})
    refused: list[Refused] = []
    accepted: list[tuple[IncidentIn, Area]] = []
    for index, record in enumerate(records):
        errors = validate(record)
        area = areas.get(record.area)
        if record.area and area is None:
            errors.append(FieldError("area", "REC-118"))
        if not errors and area is not None:
            try:
                authorize(principal, "record.create", Scope(area.path))
            except DomainError as error:
                errors.append(FieldError("area", error.code))
        if errors:
            refused.append(Refused(index, errors))
        else:
            assert area is not None
            accepted.append((record, area))
    if accepted:
        _write(session, principal, accepted)
    return refused


def _areas(session: Session, codes: set[str]) -> dict[str, Area]:
    if not codes:
        return {}
    return {a.code: a for a in session.scalars(select(Area).where(Area.code.in_(codes)))}


def _write(session: Session, principal: Principal, accepted: list[tuple[IncidentIn, Area]]) -> None:
    now = utcnow()
    incident_ids = _allocate_ids(session, Incident.__table__, len(accepted))
    incidents = [
        {
            **service.incident_values(record, area),
            "id": incident_id,
            "agency_id": principal.agency_id,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for incident_id, (record, area) in zip(incident_ids, accepted, strict=True)
    ]
    offences: list[dict[str, Any]] = []
    persons: list[dict[str, Any]] = []
    vehicles: list[dict[str, Any]] = []
    firearms: list[dict[str, Any]] = []
    documents: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    person_keys: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for incident_id, (record, area) in zip(incident_ids, accepted, strict=True):
        of_incident = {"incident_id": incident_id}
        offences += [{**v, **of_incident} for v in service.offence_values(record)]
        incident_persons = [{**v, **of_incident} for v in service.person_values(record)]
        persons += incident_persons
        visibility = {
            "area_path": area.path,
            "restricted": record.restricted,
            "agency_id": principal.agency_id,
        }
        for person in incident_persons:
            person_keys.append((person, visibility))
        vehicles += [{**v, **of_incident} for v in service.vehicle_values(record)]
        firearms += [{**v, **of_incident} for v in service.firearm_values(record)]
        documents += [{**v, **of_incident} for v in service.document_values(record)]
        versions.append(
            {
                **of_incident,
                "version": 1,
                "record": record.model_dump(mode="json"),
                "changed_at": now,
                "changed_by": principal.username,
                "agency_code": principal.agency_code,
            }
        )
    for person_id, person in zip(
        _allocate_ids(session, Involvement.__table__, len(persons)), persons, strict=True
    ):
        person["id"] = person_id
    name_keys = [
        {"key": key, "involvement_id": person["id"], **visibility}
        for person, visibility in person_keys
        for key in keys(person["given_names"], person["surnames"])
    ]
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
