"""Finding vehicles, firearms and identity documents across the incidents one may see.

Identifiers are compared in their normalised form (``atalaya.matching.identifiers``):
``efg 12-34`` finds ``EFG-12-34``. Each hit names the incident it appears in, and how
it matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.accounts.authz import Principal
from atalaya.matching.identifiers import (
    normalise_document_number,
    normalise_plate,
    normalise_serial,
    normalise_vin,
)
from atalaya.records.models import Firearm, IdentityDocument, Incident, Vehicle
from atalaya.records.service import IncidentFilter, visible_incidents

MAX_HITS = 200


@dataclass(frozen=True)
class Hit:
    """A thing as recorded in one incident, and the identifier that matched."""

    incident: Incident
    thing: Any
    matched: str


def _visible_ids(principal: Principal) -> Any:
    return visible_incidents(principal, IncidentFilter()).with_only_columns(Incident.id)


def _hits(
    session: Session, principal: Principal, model: Any, column: Any, value: str, matched: str
) -> list[Hit]:
    rows = session.execute(
        select(model, Incident)
        .join(Incident, Incident.id == model.incident_id)
        .where(column == value, Incident.id.in_(_visible_ids(principal)))
        .order_by(Incident.id.desc())
        .limit(MAX_HITS)
    ).all()
    return [Hit(incident, thing, matched) for thing, incident in rows]


def find_vehicles(
    session: Session, principal: Principal, *, plate: str | None, vin: str | None
) -> list[Hit]:
    """Return the vehicles with this VIN or plate (normalised) in visible incidents."""
    hits: list[Hit] = []
    if vin and (normal := normalise_vin(vin)):
        hits += _hits(session, principal, Vehicle, Vehicle.vin_normalised, normal, "vin")
    if plate and (normal := normalise_plate(plate)):
        found = _hits(session, principal, Vehicle, Vehicle.plate_normalised, normal, "plate")
        hits += [h for h in found if all(h.thing.id != o.thing.id for o in hits)]
    return hits


def find_firearms(session: Session, principal: Principal, *, serial: str) -> list[Hit]:
    normal = normalise_serial(serial)
    if not normal:
        return []
    return _hits(session, principal, Firearm, Firearm.serial_normalised, normal, "serial")


def find_documents(
    session: Session, principal: Principal, *, number: str, issuing_country: str | None
) -> list[Hit]:
    normal = normalise_document_number(number)
    if not normal:
        return []
    hits = _hits(
        session, principal, IdentityDocument, IdentityDocument.number_normalised, normal, "number"
    )
    if issuing_country:
        hits = [h for h in hits if h.thing.issuing_country in (None, issuing_country)]
    return hits
