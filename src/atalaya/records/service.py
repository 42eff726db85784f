"""Recording incidents: create and update (each a new version), read, list by filters."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, select
from sqlalchemy.orm import Session

from atalaya.accounts.authz import RANK, Principal, Scope, authorize, authorize_found
from atalaya.accounts.models import Agency, AgencyLevel
from atalaya.audit import service as audit
from atalaya.audit.service import AuditContext
from atalaya.db import as_utc, utcnow
from atalaya.errors import DomainError, FieldError
from atalaya.geo.models import Area
from atalaya.matching.identifiers import (
    normalise_document_number,
    normalise_plate,
    normalise_serial,
    normalise_vin,
)
from atalaya.matching.names import keys
from atalaya.observatory import derived
from atalaya.records.dates import before_first_year, parse_partial_date
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
from atalaya.records.rules import iccs_code_of, validate
from atalaya.records.schema import IncidentIn
from atalaya.records.text_search import narrative_matches, search_words


def incident_scope(incident: Incident) -> Scope:
    """Where an incident lives and who owns it, for ``authorize``."""
    level = AgencyLevel(incident.agency.level)
    return Scope(incident.area_path, incident.agency_id, level, incident.restricted)


def create_incident(
    session: Session, ctx: AuditContext, principal: Principal, data: IncidentIn
) -> Incident:
    """Store a new incident, version 1, for the principal's agency; return it.

    Raises ``DomainError`` with every broken rule (``REC-1xx``) and nothing stored, or
    ``AUTH-111``/``AUTH-112`` when the principal may not record there.
    """
    incident = store_incident(session, principal, data)
    session.flush()
    derived.record_change(session, None, derived.facts_of(incident))
    audit.record(
        session,
        ctx,
        "incident.create",
        object_type="incident",
        object_id=incident.id,
        detail={"reference": data.reference, "version": 1},
    )
    return incident


def store_incident(
    session: Session, principal: Principal, data: IncidentIn, *, known_new: bool = False
) -> Incident:
    """Add a new incident to ``session`` (not flushed, not audited) and return it.

    ``known_new`` skips the duplicate-reference query, for callers that checked a whole
    batch at once. Raises like ``create_incident``.
    """
    authorize(principal, "record.create")
    area = _check(session, data, principal.agency_id, None, known_new=known_new)
    authorize(principal, "record.create", Scope(area.path))
    incident = Incident(agency_id=principal.agency_id, version=1)
    _apply(incident, data, area)
    _snapshot(incident, data, principal)
    session.add(incident)
    return incident


def update_incident(
    session: Session, ctx: AuditContext, principal: Principal, incident: Incident, data: IncidentIn
) -> Incident:
    """Replace the incident's content with ``data`` as a new version; return it."""
    authorize(principal, "record.update", incident_scope(incident))
    area = _check(session, data, incident.agency_id, incident.id)
    authorize(principal, "record.update", Scope(area.path))
    before = derived.facts_of(incident)
    for part in (
        incident.offences,
        incident.persons,
        incident.vehicles,
        incident.firearms,
        incident.documents,
    ):
        part.clear()
    session.flush()
    _apply(incident, data, area)
    incident.version += 1
    incident.updated_at = utcnow()
    derived.record_change(session, before, derived.facts_of(incident), incident.id)
    _snapshot(incident, data, principal)
    audit.record(
        session,
        ctx,
        "incident.update",
        object_type="incident",
        object_id=incident.id,
        detail={"reference": data.reference, "version": incident.version},
    )
    return incident


def _check(
    session: Session,
    data: IncidentIn,
    agency_id: int,
    incident_id: int | None,
    *,
    known_new: bool = False,
) -> Area:
    """Run every rule, the database ones too; raise them all together."""
    errors = validate(data)
    area = session.get(Area, data.area) if data.area else None
    if data.area and area is None:
        errors.append(FieldError("area", "REC-118"))
    duplicate = select(Incident.id).where(
        Incident.agency_id == agency_id, Incident.reference == data.reference
    )
    if incident_id is not None:
        duplicate = duplicate.where(Incident.id != incident_id)
    if data.reference and not known_new and session.scalar(duplicate) is not None:
        errors.append(FieldError("reference", "REC-112"))
    if errors:
        only_duplicate = all(e.code == "REC-112" for e in errors)
        raise (
            DomainError(errors[0].code, errors=errors)
            if not only_duplicate
            else DomainError("REC-112", errors=errors)
        )
    assert area is not None
    return area


def _apply(incident: Incident, data: IncidentIn, area: Area) -> None:
    for column, value in incident_values(data).items():
        setattr(incident, column, value)
    incident.area_code, incident.area_path = area.code, area.path
    dumped = data.model_dump(mode="json")
    incident.offences = [Offence(**v) for v in offence_values(data, dumped)]
    visibility = {
        "area_path": area.path,
        "restricted": data.restricted,
        "agency_id": incident.agency_id,
    }
    incident.persons = [_person(v, visibility) for v in person_values(dumped)]
    incident.vehicles = [Vehicle(**v) for v in vehicle_values(dumped)]
    incident.firearms = [Firearm(**v) for v in firearm_values(dumped)]
    incident.documents = [IdentityDocument(**v) for v in document_values(dumped)]


def _person(values: dict[str, Any], visibility: dict[str, Any]) -> Involvement:
    person = Involvement(**values)
    name_keys = keys(values.get("given_names") or "", values.get("surnames") or "")
    person.name_keys.add_all(PersonNameKey(key=key, **visibility) for key in sorted(name_keys))
    return person


# The column values of an incident and its parts, from a record that passed the rules
# (``dumped`` is the record as JSON, as its version keeps it: the parts hold only text,
# numbers and booleans, so they read the same as in Python). The ORM path above and the
# bulk import (``atalaya.records.bulk``) both build on them.


def incident_values(data: IncidentIn) -> dict[str, Any]:
    """Return the ``incidents`` columns a record sets (not its area's path, agency or
    version)."""
    start = parse_partial_date(data.occurred_from)
    end = parse_partial_date(data.occurred_to) if data.occurred_to else start
    assert start is not None and end is not None  # the rules have checked them
    return {
        "reference": data.reference,
        "occurred_from": data.occurred_from,
        "occurred_to": data.occurred_to,
        "occurred_start": start.earliest,
        "occurred_end": end.latest,
        "reported_at": as_utc(data.reported_at),
        "area_code": data.area,
        "latitude": data.latitude,
        "longitude": data.longitude,
        "place_type": data.place_type,
        "status": data.status,
        "narrative": data.narrative,
        "restricted": data.restricted,
    }


def offence_values(data: IncidentIn, dumped: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for index in range(len(data.offences)):
        code = iccs_code_of(index, data)
        assert code is not None  # REC-116
        values = {k: v for k, v in dumped["offences"][index].items() if k != "iccs"}
        rows.append({"position": index, "iccs_code": code, **values})
    return rows


def person_values(dumped: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"position": i, **p} for i, p in enumerate(dumped["persons"])]


def vehicle_values(dumped: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for index, vehicle in enumerate(dumped["vehicles"]):
        values = dict(vehicle)
        vin, plate = values.get("vin"), values.get("plate")
        values["vin_normalised"] = normalise_vin(vin) if vin else None
        values["plate_normalised"] = normalise_plate(plate) if plate else None
        rows.append({"position": index, **values})
    return rows


def firearm_values(dumped: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for index, firearm in enumerate(dumped["firearms"]):
        values = dict(firearm)
        serial = values.get("serial")
        values["serial_normalised"] = normalise_serial(serial) if serial else None
        rows.append({"position": index, **values})
    return rows


def document_values(dumped: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for index, document in enumerate(dumped["documents"]):
        values = dict(document)
        number = values.get("number")
        values["number_normalised"] = normalise_document_number(number) if number else None
        rows.append({"position": index, **values})
    return rows


def _snapshot(incident: Incident, data: IncidentIn, who: Principal) -> None:
    incident.versions.add(
        IncidentVersion(
            version=incident.version,
            record=data.model_dump(mode="json"),
            changed_by=who.username,
            agency_code=who.agency_code,
        )
    )


def get_incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise DomainError("API-106")
    return incident


def incident_for(session: Session, principal: Principal, action: str, incident_id: int) -> Incident:
    """Return the incident ``principal`` may take ``action`` on.

    Raises ``AUTH-111`` when no role grants ``action`` (before looking: the answer says
    nothing of the id), and ``API-106`` alike for an id that does not exist and for an
    incident outside the principal's jurisdiction.
    """
    authorize(principal, action)
    incident = get_incident(session, incident_id)
    authorize_found(principal, action, incident_scope(incident))
    return incident


@dataclass(frozen=True)
class IncidentFilter:
    agency: str | None = None
    area: str | None = None
    occurred_since: dt.datetime | None = None
    occurred_until: dt.datetime | None = None
    iccs: str | None = None
    status: str | None = None
    # Words that must all occur in the narrative (full-text search).
    text: str | None = None

    def __post_init__(self) -> None:
        """Refuse bounds before 1900 (``REC-120``), as the records themselves are."""
        bounds = {"occurred_since": self.occurred_since, "occurred_until": self.occurred_until}
        errors = [
            FieldError(name, "REC-120")
            for name, moment in bounds.items()
            if moment is not None and before_first_year(moment)
        ]
        if errors:
            raise DomainError("REC-120", errors=errors)


def matching_incidents(flt: IncidentFilter) -> Select[Incident]:
    """Return a select of every incident that matches ``flt``, whoever may see it."""
    stmt = select(Incident).join(Agency, Agency.id == Incident.agency_id)
    if flt.agency:
        stmt = stmt.where(Agency.code == flt.agency)
    if flt.area:
        area_path = select(Area.path).where(Area.code == flt.area).scalar_subquery()
        stmt = stmt.where(Incident.area_path.startswith(area_path))
    if flt.occurred_since:
        stmt = stmt.where(Incident.occurred_end >= flt.occurred_since)
    if flt.occurred_until:
        stmt = stmt.where(Incident.occurred_start < flt.occurred_until)
    if flt.iccs:
        # ICCS codes nest by prefix: 02011 lies under 0201, which lies under 02.
        code = Offence.iccs_code.startswith(flt.iccs, autoescape=True)
        stmt = stmt.where(exists().where(Offence.incident_id == Incident.id, code))
    if flt.status:
        stmt = stmt.where(Incident.status == flt.status)
    if flt.text and search_words(flt.text):
        stmt = stmt.where(narrative_matches(flt.text))
    return stmt


def visible_incidents(principal: Principal, flt: IncidentFilter) -> Select[Incident]:
    """Return a select of the incidents ``principal`` may read that match ``flt``."""
    return matching_incidents(flt).where(visible_to(principal))


def visible_to(
    principal: Principal, where: type[Incident] | type[PersonNameKey] = Incident
) -> ColumnElement[bool]:
    """The condition an incident meets when ``principal`` may read it.

    The same rule as ``authorize`` with ``incident_scope``: inside the jurisdiction, and
    restricted incidents only for their agency and agencies of a higher rank. It needs
    no join, and applies as well to the copies of those columns that person name keys
    carry (``where=PersonNameKey``).
    """
    higher = [lv for lv, rank in RANK.items() if rank < RANK[principal.agency_level]]
    allowed = ~where.restricted | (where.agency_id == principal.agency_id)
    if higher:
        senior = select(Agency.id).where(Agency.level.in_(higher))
        allowed = allowed | where.agency_id.in_(senior)
    inside = where.area_path.startswith(principal.jurisdiction_path, autoescape=True)
    return inside & allowed


def history(session: Session, incident: Incident) -> list[IncidentVersion]:
    """Return every version of ``incident``, oldest first."""
    return list(
        session.scalars(
            select(IncidentVersion)
            .where(IncidentVersion.incident_id == incident.id)
            .order_by(IncidentVersion.version)
        )
    )
