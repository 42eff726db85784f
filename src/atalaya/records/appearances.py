"""Where a person, vehicle, firearm or identity document appears: the incident it was
recorded in, and every other record of the same one in the incidents the viewer may see.

The item itself must lie in an incident the viewer may see; otherwise it is not found
(``API-106``), so that a refusal does not reveal that it exists. Things are the same when
their normalised identifier is (``things.py``); persons when their names match at
``SAME_PERSON_THRESHOLD``, with date of birth, sex and nationality counted where
recorded (``persons.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.accounts.authz import Principal, authorize
from atalaya.errors import DomainError
from atalaya.records import persons, shown, things
from atalaya.records.models import Firearm, IdentityDocument, Incident, Involvement, Vehicle
from atalaya.records.service import IncidentFilter, visible_incidents

# Higher than a search's default: a page says "the same person", not "a similar name".
SAME_PERSON_THRESHOLD = 90.0
MAX_PERSONS = 200

Item = TypeVar("Item", Involvement, Vehicle, Firearm, IdentityDocument)
Thing = Vehicle | Firearm | IdentityDocument


@dataclass(frozen=True)
class PersonAppearances:
    person: Involvement
    incident: Incident
    # The other records of the same person, best score first.
    others: list[persons.PersonHit]

    @property
    def incident_ids(self) -> list[int]:
        return sorted({self.incident.id} | {h.incident.id for h in self.others})

    @property
    def shown(self) -> dict[str, list[int]]:
        """The incidents and persons a page of these appearances shows (``shown``)."""
        records = [self.person, *(h.person for h in self.others)]
        return {"incidents": self.incident_ids, **shown.items(records)}


@dataclass(frozen=True)
class ThingAppearances:
    thing: Thing
    incident: Incident
    # The other records of the same thing, newest incident first.
    others: list[things.Hit]

    @property
    def incident_ids(self) -> list[int]:
        return sorted({self.incident.id} | {h.incident.id for h in self.others})

    @property
    def shown(self) -> dict[str, list[int]]:
        """The incidents and things a page of these appearances shows (``shown``)."""
        records = [self.thing, *(h.thing for h in self.others)]
        return {"incidents": self.incident_ids, **shown.items(records)}


def of_person(session: Session, principal: Principal, involvement_id: int) -> PersonAppearances:
    """Return the person recorded as ``involvement_id`` and the other records of them.

    Raises ``AUTH-111`` without ``record.read``, ``API-106`` when the person is not in an
    incident the principal may see. A person recorded without a name has no others.
    """
    person, incident = _visible(session, principal, Involvement, involvement_id)
    query = persons.PersonQuery(
        given_names=person.given_names,
        surnames=person.surnames,
        date_of_birth=person.date_of_birth,
        # "unknown" says nothing of the person, so it must not count as a difference.
        sex=person.sex if person.sex != "unknown" else None,
        nationality=person.nationality,
        threshold=SAME_PERSON_THRESHOLD,
    )
    hits = persons.find_persons(session, principal, query, limit=MAX_PERSONS)
    return PersonAppearances(person, incident, [h for h in hits if h.person.id != person.id])


def of_vehicle(session: Session, principal: Principal, vehicle_id: int) -> ThingAppearances:
    """Return the vehicle and the other records with its VIN, or with its plate unless
    the plate's area or the VIN shows another vehicle; raises like ``of_person``."""
    vehicle, incident = _visible(session, principal, Vehicle, vehicle_id)
    hits = things.find_vehicles(session, principal, plate=vehicle.plate, vin=vehicle.vin)
    others = [h for h in hits if h.thing.id != vehicle.id and _same_vehicle(vehicle, h)]
    return ThingAppearances(vehicle, incident, others)


def _same_vehicle(vehicle: Vehicle, hit: things.Hit) -> bool:
    if hit.matched == "vin":
        return True
    # Plates repeat across areas and are reissued: two different VINs are two vehicles.
    other: Vehicle = hit.thing
    if vehicle.vin_normalised and other.vin_normalised:
        return vehicle.vin_normalised == other.vin_normalised
    return not (vehicle.plate_area and other.plate_area and vehicle.plate_area != other.plate_area)


def of_firearm(session: Session, principal: Principal, firearm_id: int) -> ThingAppearances:
    """Return the firearm and the other records with its serial; raises like ``of_person``."""
    firearm, incident = _visible(session, principal, Firearm, firearm_id)
    hits = things.find_firearms(session, principal, serial=firearm.serial or "")
    return ThingAppearances(firearm, incident, [h for h in hits if h.thing.id != firearm.id])


def of_document(session: Session, principal: Principal, document_id: int) -> ThingAppearances:
    """Return the identity document and the other records with its number (and issuing
    country, where both give one); raises like ``of_person``."""
    document, incident = _visible(session, principal, IdentityDocument, document_id)
    hits = things.find_documents(
        session, principal, number=document.number, issuing_country=document.issuing_country
    )
    return ThingAppearances(document, incident, [h for h in hits if h.thing.id != document.id])


def _visible(
    session: Session, principal: Principal, model: type[Item], item_id: int
) -> tuple[Item, Incident]:
    """Return the item and its incident if the principal may see that incident."""
    authorize(principal, "record.read")
    visible = visible_incidents(principal, IncidentFilter()).with_only_columns(Incident.id)
    row = session.execute(
        select(model, Incident)
        .join(Incident, Incident.id == model.incident_id)
        .where(model.id == item_id, Incident.id.in_(visible))
    ).first()
    if row is None:
        raise DomainError("API-106")
    item, incident = row
    return item, incident
