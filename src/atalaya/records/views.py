"""Browser pages for incidents: the list with its filters, and one incident in full."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from atalaya.accounts.authz import authorize
from atalaya.accounts.deps import SessionDep, audit_context, audit_read
from atalaya.accounts.views import CsrfDep, WebPrincipal
from atalaya.classification.iccs import iccs
from atalaya.errors import DomainError, FieldError, field_errors_from_pydantic, message_for
from atalaya.i18n import translator
from atalaya.records import persons, service, things
from atalaya.records.schema import IncidentIn
from atalaya.records.vocabularies import vocabularies
from atalaya.web.language import request_language
from atalaya.web.pages import render
from atalaya.web.pagination import RowId, paginate

router = APIRouter(include_in_schema=False)


@router.get("/incidents")
async def incidents_page(
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    area: str = "",
    iccs_code: str = "",
    status: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
    q: str = "",
    cursor: str | None = None,
) -> Response:
    """Incidents the user may see, newest first, with the list's filters."""
    authorize(principal, "record.read")
    if q:
        authorize(principal, "record.search")
    flt = service.IncidentFilter(
        area=area or None,
        iccs=iccs_code if iccs_code.isdigit() else None,
        status=status or None,
        occurred_since=dt.datetime.combine(since, dt.time(), dt.UTC) if since else None,
        occurred_until=dt.datetime.combine(until, dt.time(), dt.UTC) if until else None,
        text=q[:200] or None,
    )
    stmt = service.visible_incidents(principal, flt)
    page = paginate(session, stmt, service.Incident.id, cursor, 50, lambda incident: incident)
    await audit_read(
        request, "incident.list", object_type="incident", detail={"ids": [i.id for i in page.items]}
    )
    filters = {
        "area": area,
        "iccs_code": iccs_code,
        "status": status,
        "since": since or "",
        "until": until or "",
        "q": q,
    }
    return render(request, "records/list.html", {"page": page, "filters": filters, "iccs": iccs()})


# How many person rows the recording form offers; blank rows are ignored.
PERSON_ROWS = 4


@router.get("/incidents/new")
async def new_incident_page(request: Request, principal: WebPrincipal) -> Response:
    """The form to record an incident: one offence, up to four persons."""
    authorize(principal, "record.create")
    return _render_form(request, {}, {})


@router.post("/incidents/new", dependencies=[CsrfDep])
async def record_incident(
    request: Request, principal: WebPrincipal, session: SessionDep
) -> Response:
    """Record the incident, or show the form again with each message beside its field."""
    authorize(principal, "record.create")
    form = {key: str(value) for key, value in (await request.form()).items()}
    try:
        data = IncidentIn.model_validate(_incident_from_form(form))
        incident = service.create_incident(session, audit_context(request), principal, data)
    except ValidationError as error:
        return _render_form(
            request, form, _messages(request, field_errors_from_pydantic(error.errors()))
        )
    except DomainError as error:
        if error.code.startswith("AUTH"):
            raise
        return _render_form(
            request,
            form,
            _messages(request, error.errors or [FieldError(error.field or "form", error.code)]),
        )
    session.flush()
    return RedirectResponse(f"/incidents/{incident.id}", status_code=303)


def _incident_from_form(form: dict[str, str]) -> dict[str, Any]:
    """Return the record a filled-in form describes (blank fields left out)."""
    text = {k: v.strip() for k, v in form.items() if k != "csrf_token" and v.strip()}
    offence: dict[str, Any] = {
        k.split(".", 2)[2]: v for k, v in text.items() if k.startswith("offences.0.")
    }
    offence["attempted"] = offence.get("attempted") == "on"
    persons = []
    for row in range(PERSON_ROWS):
        person = {k.split(".", 2)[2]: v for k, v in text.items() if k.startswith(f"persons.{row}.")}
        if any(key != "role" for key in person) or person.get("role"):
            persons.append(person)
    record: dict[str, Any] = {k: v for k, v in text.items() if "." not in k}
    record["restricted"] = record.get("restricted") == "on"
    record.update(offences=[offence], persons=persons)
    return record


def _messages(request: Request, errors: list[FieldError]) -> dict[str, str]:
    tr = translator(request_language(request))
    messages: dict[str, str] = {}
    for error in errors:
        messages.setdefault(error.field, message_for(error.code, tr, error.params))
    return messages


def _render_form(request: Request, form: dict[str, str], errors: dict[str, str]) -> Response:
    context = {
        "form": form,
        "errors": errors,
        "rows": range(PERSON_ROWS),
        "vocabularies": vocabularies(),
    }
    return render(request, "records/form.html", context, status=422 if errors else 200)


@router.get("/incidents/{incident_id}")
async def incident_page(
    incident_id: RowId, request: Request, principal: WebPrincipal, session: SessionDep
) -> Response:
    """One incident in full, with its history; the read is audited."""
    incident = service.get_incident(session, incident_id)
    authorize(principal, "record.read", service.incident_scope(incident))
    versions = service.history(session, incident)
    await audit_read(
        request,
        "incident.read",
        object_type="incident",
        object_id=incident_id,
        detail={"persons": len(incident.persons)},
    )
    context = {"incident": incident, "versions": versions, "iccs": iccs()}
    return render(request, "records/detail.html", context)


@router.get("/search")
async def search_page(
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    surnames: str = "",
    given_names: str = "",
    date_of_birth: str = "",
    plate: str = "",
    vin: str = "",
    serial: str = "",
    number: str = "",
) -> Response:
    """Search persons, vehicles, firearms and documents across the incidents one may see;
    each hit links to the incident it appears in."""
    authorize(principal, "record.read")
    person_hits: list[persons.PersonHit] = []
    thing_hits: list[things.Hit] = []
    if surnames.strip():
        query = persons.PersonQuery(given_names[:200], surnames[:200], date_of_birth[:16] or None)
        person_hits = persons.find_persons(session, principal, query)
    if plate.strip() or vin.strip():
        thing_hits += things.find_vehicles(session, principal, plate=plate[:20], vin=vin[:40])
    if serial.strip():
        thing_hits += things.find_firearms(session, principal, serial=serial[:60])
    if number.strip():
        thing_hits += things.find_documents(
            session, principal, number=number[:60], issuing_country=None
        )
    searched = {
        k: v
        for k, v in {
            "surnames": surnames,
            "given_names": given_names,
            "plate": plate,
            "vin": vin,
            "serial": serial,
            "number": number,
        }.items()
        if v
    }
    if searched:
        incidents = sorted(
            {h.incident.id for h in person_hits} | {h.incident.id for h in thing_hits}
        )
        await audit_read(
            request,
            "search",
            object_type="incident",
            detail={"searched": searched, "incidents": incidents},
        )
    context = {
        "form": {
            "surnames": surnames,
            "given_names": given_names,
            "date_of_birth": date_of_birth,
            "plate": plate,
            "vin": vin,
            "serial": serial,
            "number": number,
        },
        "person_hits": person_hits,
        "thing_hits": thing_hits,
        "searched": bool(searched),
    }
    return render(request, "records/search.html", context)
