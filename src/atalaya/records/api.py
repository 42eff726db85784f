"""JSON routes for incidents: record, read (audited), update (versioned), list, history."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from atalaya.accounts.authz import authorize
from atalaya.accounts.deps import (
    SessionDep,
    SignedInRoute,
    audit_context,
    audit_read,
    signed_in,
)
from atalaya.db import as_utc
from atalaya.records import appearances, persons, service, shown, things
from atalaya.records.appearances import PersonAppearances, ThingAppearances
from atalaya.records.dates import Moment
from atalaya.records.models import Incident
from atalaya.records.schema import (
    DocumentIn,
    FirearmIn,
    IncidentIn,
    OffenceIn,
    PersonIn,
    VehicleIn,
)
from atalaya.records.summary import GroupBy, summarise
from atalaya.web.pagination import MAX_LIMIT, Page, RowId, paginate
from atalaya.web.problems import PROBLEM_RESPONSES

router = APIRouter(
    prefix="/api/v1", tags=["records"], responses=PROBLEM_RESPONSES, route_class=SignedInRoute
)


async def incident_filter(
    agency: str | None = None,
    area: str | None = None,
    occurred_since: Moment | None = None,
    occurred_until: Moment | None = None,
    iccs: Annotated[str | None, Query(max_length=6, pattern=r"^\d{2,6}$")] = None,
    status: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> service.IncidentFilter:
    """The list's filters, shared by the list, the summary and (in the CLI) the export.

    ``q`` searches the narratives (every word must occur); it needs ``record.search``.
    """
    return service.IncidentFilter(
        agency, area, as_utc(occurred_since), as_utc(occurred_until), iccs, status, q
    )


FilterDep = Annotated[service.IncidentFilter, Depends(incident_filter)]


class OffenceOut(OffenceIn):
    iccs: str


class IncidentOut(BaseModel):
    id: int
    agency: str
    reference: str
    version: int
    occurred_from: str
    occurred_to: str | None
    reported_at: dt.datetime | None
    area: str
    latitude: float | None
    longitude: float | None
    place_type: str | None
    status: str
    narrative: str
    restricted: bool
    offences: list[OffenceOut]
    persons: list[PersonIn]
    vehicles: list[VehicleIn]
    firearms: list[FirearmIn]
    documents: list[DocumentIn]
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, incident: Incident) -> IncidentOut:
        return cls(
            **_columns(IncidentOut, incident, skip=_NOT_COLUMNS),
            agency=incident.agency.code,
            area=incident.area_code,
            offences=[
                OffenceOut(**_columns(OffenceIn, o, skip=("iccs",)), iccs=o.iccs_code)
                for o in incident.offences
            ],
            persons=[PersonIn(**_columns(PersonIn, p)) for p in incident.persons],
            vehicles=[VehicleIn(**_columns(VehicleIn, v)) for v in incident.vehicles],
            firearms=[FirearmIn(**_columns(FirearmIn, f)) for f in incident.firearms],
            documents=[DocumentIn(**_columns(DocumentIn, d)) for d in incident.documents],
        )


# Fields of IncidentOut that are not columns of the same name on Incident.
_NOT_COLUMNS = ("agency", "area", "offences", "persons", "vehicles", "firearms", "documents")


def _columns(model: type[BaseModel], row: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return the row's attributes named like the model's fields (but those skipped)."""
    return {name: getattr(row, name) for name in model.model_fields if name not in skip}


class VersionOut(BaseModel):
    version: int
    changed_at: dt.datetime
    changed_by: str
    agency: str
    record: dict[str, Any]


@router.post("/incidents", status_code=201, response_model=IncidentOut)
def record_incident(body: IncidentIn, request: Request, session: SessionDep) -> IncidentOut:
    """Record an incident for your agency. All broken rules come back together."""
    principal = signed_in(request)
    incident = service.create_incident(session, audit_context(request), principal, body)
    return IncidentOut.of(incident)


class CountOut(BaseModel):
    key: str | None
    incidents: int
    offences: int
    victims: int


class SummaryOut(BaseModel):
    by: GroupBy
    items: list[CountOut]
    total: int
    next: None = None


@router.get("/incidents/summary", response_model=SummaryOut)
def summarise_incidents(
    request: Request,
    session: SessionDep,
    by: GroupBy,
    flt: FilterDep,
) -> SummaryOut:
    """Counts of incidents, offences and victims by area, month, ICCS code, victims' sex
    or age group, or weapon, with the list's filters and within what you may see."""
    principal = signed_in(request)
    authorize(principal, "record.read")
    if flt.text:
        authorize(principal, "record.search")
    counts = summarise(session, principal, flt, by)
    items = [
        CountOut(key=c.key, incidents=c.incidents, offences=c.offences, victims=c.victims)
        for c in counts
    ]
    return SummaryOut(by=by, items=items, total=len(items))


@router.get("/incidents/{incident_id}", response_model=IncidentOut)
def read_incident(incident_id: RowId, request: Request, session: SessionDep) -> IncidentOut:
    """Read an incident; a read of the persons in it is audited."""
    principal = signed_in(request)
    incident = service.incident_for(session, principal, "record.read", incident_id)
    out = IncidentOut.of(incident)
    audit_read(
        request,
        "incident.read",
        object_type="incident",
        object_id=incident_id,
        detail={"version": incident.version, **shown.of_incident(incident)},
    )
    return out


@router.put("/incidents/{incident_id}", response_model=IncidentOut)
def update_incident(
    incident_id: RowId,
    body: IncidentIn,
    request: Request,
    session: SessionDep,
) -> IncidentOut:
    """Replace the incident's content; the previous version stays in its history."""
    principal = signed_in(request)
    incident = service.incident_for(session, principal, "record.update", incident_id)
    service.update_incident(session, audit_context(request), principal, incident, body)
    return IncidentOut.of(incident)


@router.get("/incidents/{incident_id}/history", response_model=list[VersionOut])
def incident_history(incident_id: RowId, request: Request, session: SessionDep) -> list[VersionOut]:
    """Every version of the incident: who changed it, when, and what it then said."""
    principal = signed_in(request)
    incident = service.incident_for(session, principal, "record.read", incident_id)
    versions = service.history(session, incident)
    audit_read(
        request,
        "incident.history",
        object_type="incident",
        object_id=incident_id,
        detail={"versions": [v.version for v in versions]},
    )
    return [
        VersionOut(
            version=v.version,
            changed_at=v.changed_at,
            changed_by=v.changed_by,
            agency=v.agency_code,
            record=v.record,
        )
        for v in versions
    ]


@router.get("/incidents", response_model=Page[IncidentOut])
def list_incidents(
    request: Request,
    session: SessionDep,
    flt: FilterDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[IncidentOut]:
    """List the incidents you may see, newest first, filtered; persons read are audited."""
    principal = signed_in(request)
    authorize(principal, "record.read")
    if flt.text:
        authorize(principal, "record.search")
    stmt = service.visible_incidents(principal, flt)
    page = paginate(session, stmt, Incident.id, cursor, limit, IncidentOut.of)
    audit_read(
        request, "incident.list", object_type="incident", detail={"ids": [i.id for i in page.items]}
    )
    return page


class ThingHit(BaseModel):
    incident_id: int
    reference: str
    agency: str
    occurred_from: str
    area: str
    matched: str
    thing: dict[str, Any]


def _thing_hits(hits: list[things.Hit], model: type[BaseModel]) -> Page[ThingHit]:
    items = [
        ThingHit(
            incident_id=h.incident.id,
            reference=h.incident.reference,
            agency=h.incident.agency.code,
            occurred_from=h.incident.occurred_from,
            area=h.incident.area_code,
            matched=h.matched,
            thing=_columns(model, h.thing),
        )
        for h in hits
    ]
    return Page[ThingHit](items=items, total=len(items), next=None)


@router.get("/vehicles", response_model=Page[ThingHit])
def search_vehicles(
    request: Request,
    session: SessionDep,
    plate: Annotated[str | None, Query(max_length=20)] = None,
    vin: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[ThingHit]:
    """Every incident you may see that records this plate or VIN (written any way)."""
    principal = signed_in(request)
    authorize(principal, "record.read")
    hits = things.find_vehicles(session, principal, plate=plate, vin=vin)
    audit_read(
        request,
        "vehicle.search",
        object_type="vehicle",
        detail={"plate": plate, "vin": vin, "hits": len(hits), **shown.of_hits(thing_hits=hits)},
    )
    return _thing_hits(hits, VehicleIn)


@router.get("/firearms", response_model=Page[ThingHit])
def search_firearms(
    request: Request,
    session: SessionDep,
    serial: Annotated[str, Query(min_length=1, max_length=60)],
) -> Page[ThingHit]:
    """Every incident you may see that records a firearm with this serial number."""
    principal = signed_in(request)
    authorize(principal, "record.read")
    hits = things.find_firearms(session, principal, serial=serial)
    audit_read(
        request,
        "firearm.search",
        object_type="firearm",
        detail={"serial": serial, "hits": len(hits), **shown.of_hits(thing_hits=hits)},
    )
    return _thing_hits(hits, FirearmIn)


@router.get("/documents", response_model=Page[ThingHit])
def search_documents(
    request: Request,
    session: SessionDep,
    number: Annotated[str, Query(min_length=1, max_length=60)],
    issuing_country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
) -> Page[ThingHit]:
    """Every incident you may see that records an identity document with this number."""
    principal = signed_in(request)
    authorize(principal, "record.read")
    hits = things.find_documents(session, principal, number=number, issuing_country=issuing_country)
    audit_read(
        request,
        "document.search",
        object_type="document",
        detail={
            "number": number,
            "issuing_country": issuing_country,
            "hits": len(hits),
            **shown.of_hits(thing_hits=hits),
        },
    )
    return _thing_hits(hits, DocumentIn)


class PersonHitOut(BaseModel):
    score: float
    reasons: list[str]
    incident_id: int
    reference: str
    agency: str
    occurred_from: str
    person: PersonIn


@router.get("/persons", response_model=Page[PersonHitOut])
def search_persons(
    request: Request,
    session: SessionDep,
    surnames: Annotated[str, Query(min_length=1, max_length=200)],
    given_names: Annotated[str, Query(max_length=200)] = "",
    date_of_birth: Annotated[str | None, Query(max_length=16)] = None,
    sex: Annotated[str | None, Query(pattern="^(male|female)$")] = None,
    nationality: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    threshold: Annotated[float, Query(ge=0, le=100)] = persons.DEFAULT_THRESHOLD,
) -> Page[PersonHitOut]:
    """Persons in the incidents you may see whose name matches, scored, with the reasons:
    surnames in either order or only one, particles, accents, spelling variants, typos."""
    principal = signed_in(request)
    authorize(principal, "record.read")
    query = persons.PersonQuery(given_names, surnames, date_of_birth, sex, nationality, threshold)
    persons.check_query(query)
    hits = persons.find_persons(session, principal, query)
    audit_read(
        request,
        "person.search",
        object_type="person",
        detail={**asdict(query), **shown.of_hits(person_hits=hits)},
    )
    items = [
        PersonHitOut(
            score=h.score,
            reasons=h.reasons,
            incident_id=h.incident.id,
            reference=h.incident.reference,
            agency=h.incident.agency.code,
            occurred_from=h.incident.occurred_from,
            person=PersonIn(**_columns(PersonIn, h.person)),
        )
        for h in hits
    ]
    return Page[PersonHitOut](items=items, total=len(items), next=None)


class IncidentRef(BaseModel):
    """The incident a person or thing is recorded in."""

    id: int
    reference: str
    agency: str
    occurred_from: str
    area: str

    @classmethod
    def of(cls, incident: Incident) -> IncidentRef:
        return cls(
            id=incident.id,
            reference=incident.reference,
            agency=incident.agency.code,
            occurred_from=incident.occurred_from,
            area=incident.area_code,
        )


class PersonAppearanceOut(BaseModel):
    id: int
    incident: IncidentRef
    person: PersonIn
    score: float
    reasons: list[str]


class PersonOut(BaseModel):
    id: int
    incident: IncidentRef
    person: PersonIn
    appearances: list[PersonAppearanceOut]

    @classmethod
    def of(cls, found: PersonAppearances) -> PersonOut:
        return cls(
            id=found.person.id,
            incident=IncidentRef.of(found.incident),
            person=PersonIn(**_columns(PersonIn, found.person)),
            appearances=[
                PersonAppearanceOut(
                    id=h.person.id,
                    incident=IncidentRef.of(h.incident),
                    person=PersonIn(**_columns(PersonIn, h.person)),
                    score=h.score,
                    reasons=h.reasons,
                )
                for h in found.others
            ],
        )


@router.get("/persons/{person_id}", response_model=PersonOut)
def read_person(person_id: RowId, request: Request, session: SessionDep) -> PersonOut:
    """A person as recorded in an incident (``id`` as in search results), and the other
    records of the same person in the incidents you may see, each scored with the
    reasons. Not found unless the person's incident is one you may see; audited."""
    principal = signed_in(request)
    found = appearances.of_person(session, principal, person_id)
    out = PersonOut.of(found)
    audit_read(
        request,
        "person.read",
        object_type="person",
        object_id=person_id,
        detail=found.shown,
    )
    return out


Thing = TypeVar("Thing", VehicleIn, FirearmIn, DocumentIn)


class ThingAppearanceOut(BaseModel, Generic[Thing]):
    id: int
    incident: IncidentRef
    matched: str
    thing: Thing


class ThingOut(BaseModel, Generic[Thing]):
    id: int
    incident: IncidentRef
    thing: Thing
    appearances: list[ThingAppearanceOut[Thing]]


def _thing_out(found: ThingAppearances, model: type[Thing]) -> ThingOut[Thing]:
    return ThingOut(
        id=found.thing.id,
        incident=IncidentRef.of(found.incident),
        thing=model(**_columns(model, found.thing)),
        appearances=[
            ThingAppearanceOut(
                id=h.thing.id,
                incident=IncidentRef.of(h.incident),
                matched=h.matched,
                thing=model(**_columns(model, h.thing)),
            )
            for h in found.others
        ],
    )


def _audit_thing(request: Request, kind: str, found: ThingAppearances) -> None:
    audit_read(
        request,
        f"{kind}.read",
        object_type=kind,
        object_id=found.thing.id,
        detail=found.shown,
    )


@router.get("/vehicles/{vehicle_id}", response_model=ThingOut[VehicleIn])
def read_vehicle(vehicle_id: RowId, request: Request, session: SessionDep) -> ThingOut[VehicleIn]:
    """A vehicle as recorded in an incident, and the other records with its VIN, or its
    plate in the same area, in the incidents you may see; audited."""
    principal = signed_in(request)
    found = appearances.of_vehicle(session, principal, vehicle_id)
    out = _thing_out(found, VehicleIn)
    _audit_thing(request, "vehicle", found)
    return out


@router.get("/firearms/{firearm_id}", response_model=ThingOut[FirearmIn])
def read_firearm(firearm_id: RowId, request: Request, session: SessionDep) -> ThingOut[FirearmIn]:
    """A firearm as recorded in an incident, and the other records with its serial number
    in the incidents you may see; audited."""
    principal = signed_in(request)
    found = appearances.of_firearm(session, principal, firearm_id)
    out = _thing_out(found, FirearmIn)
    _audit_thing(request, "firearm", found)
    return out


@router.get("/documents/{document_id}", response_model=ThingOut[DocumentIn])
def read_document(
    document_id: RowId, request: Request, session: SessionDep
) -> ThingOut[DocumentIn]:
    """An identity document as recorded in an incident, and the other records with its
    number (and issuing country) in the incidents you may see; audited."""
    principal = signed_in(request)
    found = appearances.of_document(session, principal, document_id)
    out = _thing_out(found, DocumentIn)
    _audit_thing(request, "document", found)
    return out
