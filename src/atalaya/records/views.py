"""Browser pages for incidents: the list with its filters, one incident in full, the
form that records or changes one, and the pages of a person, vehicle, firearm or
document with every incident it appears in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from itertools import pairwise
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from atalaya.accounts.authz import Principal, Scope, authorize
from atalaya.accounts.deps import SessionDep, SessionRoute, SubmittedForm, audit_context, audit_read
from atalaya.accounts.views import CsrfDep, WebPrincipal
from atalaya.alerts.service import alerts_for_incident
from atalaya.classification.crosswalks import SCHEMES
from atalaya.classification.iccs import iccs
from atalaya.errors import DomainError, FieldError, field_errors_from_pydantic, message_for
from atalaya.i18n import N_, translator
from atalaya.records import appearances, incident_form, persons, service, shown, things
from atalaya.records.models import Incident, IncidentVersion
from atalaya.records.schema import IncidentIn
from atalaya.records.vocabularies import vocabularies
from atalaya.web.language import request_language
from atalaya.web.pages import render
from atalaya.web.pagination import RowId, paginate

router = APIRouter(include_in_schema=False, route_class=SessionRoute)

# Shown when an edit was begun on a version that is no longer the current one.
STALE_MESSAGE = N_(
    "Someone else changed this incident while you were editing it. Check the fields "
    "below against the incident's page, then save again to replace their version."
)


@router.get("/incidents")
def incidents_page(
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
    audit_read(
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


@router.get("/incidents/new")
async def new_incident_page(request: Request, principal: WebPrincipal) -> Response:
    """The form to record an incident, with blank rows for offences, persons and things."""
    authorize(principal, "record.create")
    return _render_form(request, None, {"status": "open"}, incident_form.rows_of({}), {})


@router.post("/incidents/new", dependencies=[CsrfDep])
def record_incident(
    request: Request, principal: WebPrincipal, session: SessionDep, form: SubmittedForm
) -> Response:
    """Record the incident, or show the form again with each message beside its field."""
    authorize(principal, "record.create")
    ctx = audit_context(request)
    return _submit(
        request, None, form, lambda d: service.create_incident(session, ctx, principal, d)
    )


@router.get("/incidents/{incident_id}/edit")
def edit_incident_page(
    incident_id: RowId, request: Request, principal: WebPrincipal, session: SessionDep
) -> Response:
    """The form to change an incident, filled in from its current version; audited as a
    read, since it shows the persons."""
    incident = service.incident_for(session, principal, "record.update", incident_id)
    record = service.history(session, incident)[-1].record
    form = incident_form.form_from_record(record) | {"base_version": str(incident.version)}
    rows = incident_form.rows_for_record(record)
    audit_read(
        request,
        "incident.read",
        object_type="incident",
        object_id=incident_id,
        detail={"version": incident.version, **shown.of_incident(incident), "form": "edit"},
    )
    return _render_form(request, incident, form, rows, {})


@router.post("/incidents/{incident_id}/edit", dependencies=[CsrfDep])
def save_incident(
    incident_id: RowId,
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    form: SubmittedForm,
) -> Response:
    """Save the form as the incident's next version, or show it again with the messages.

    A form opened on an older version than the current one is not saved: it comes back,
    as filled in, to be checked against what changed meanwhile and sent again.
    """
    incident = service.incident_for(session, principal, "record.update", incident_id)
    if "more" not in form and form.get("base_version") != str(incident.version):
        tr = translator(request_language(request))
        form["base_version"] = str(incident.version)
        stale = {"form": tr.gettext(STALE_MESSAGE)}
        return _render_form(request, incident, form, incident_form.rows_of(form), stale, status=409)
    ctx = audit_context(request)
    return _submit(
        request,
        incident,
        form,
        lambda data: service.update_incident(session, ctx, principal, incident, data),
    )


def _submit(
    request: Request,
    incident: Incident | None,
    form: dict[str, str],
    save: Callable[[IncidentIn], Incident],
) -> Response:
    """Save the record the form describes and go to its page; or show the form again,
    with more rows when a "more" button was pressed, or with each message by its field."""
    rows = incident_form.rows_of(form)
    if "more" in form:
        return _render_form(
            request, incident, form, incident_form.with_more_rows(rows, form["more"]), {}
        )
    record, kept = incident_form.record_from_form(form, rows)
    try:
        saved = save(IncidentIn.model_validate(record))
    except ValidationError as error:
        errors = field_errors_from_pydantic(error.errors())
    except DomainError as error:
        if error.code.startswith("AUTH"):
            raise
        errors = error.errors or [FieldError(error.field or "form", error.code)]
    else:
        return RedirectResponse(f"/incidents/{saved.id}", status_code=303)
    placed = [FieldError(incident_form.on_form(e.field, kept), e.code, e.params) for e in errors]
    return _render_form(request, incident, form, rows, _messages(request, placed))


def _messages(request: Request, errors: list[FieldError]) -> dict[str, str]:
    tr = translator(request_language(request))
    messages: dict[str, str] = {}
    for error in errors:
        messages.setdefault(error.field, message_for(error.code, tr, error.params))
    return messages


def _render_form(
    request: Request,
    incident: Incident | None,
    form: dict[str, str],
    rows: dict[str, int],
    errors: dict[str, str],
    status: int | None = None,
) -> Response:
    placed = incident_form.field_names(rows)
    context = {
        "incident": incident,
        "form": form,
        "errors": errors,
        "unplaced": [message for field, message in errors.items() if field not in placed],
        "rows": rows,
        "choices": {**vocabularies(), "national_scheme": frozenset(SCHEMES)},
    }
    return render(request, "records/form.html", context, status=status or (422 if errors else 200))


@router.get("/incidents/{incident_id}")
def incident_page(
    incident_id: RowId, request: Request, principal: WebPrincipal, session: SessionDep
) -> Response:
    """One incident in full, with its history and what each version changed; the read is
    audited."""
    incident = service.incident_for(session, principal, "record.read", incident_id)
    scope = service.incident_scope(incident)
    versions = service.history(session, incident)
    # Active alerts about something recorded here (a VIN, a serial, a person...).
    alerts = alerts_for_incident(session, incident) if principal.may("alert.read") else []
    audit_read(
        request,
        "incident.read",
        object_type="incident",
        object_id=incident_id,
        detail={
            "version": incident.version,
            **shown.of_incident(incident),
            "alerts": [a.uid for a in alerts],
        },
    )
    context = {
        "incident": incident,
        "versions": versions,
        "changes": _changes(versions),
        "may_edit": _may(principal, "record.update", scope),
        "iccs": iccs(),
        "alerts": alerts,
    }
    return render(request, "records/detail.html", context)


def _may(principal: Principal, action: str, scope: Scope) -> bool:
    try:
        authorize(principal, action, scope)
    except DomainError:
        return False
    return True


def _changes(versions: list[IncidentVersion]) -> dict[int, list[str]]:
    """Return, for each version after the first, the fields it changed
    (``status``, ``persons.1.surnames``), in the record's order."""
    flat = [_flatten(v.record) for v in versions]
    return {
        version.version: [k for k in before | after if before.get(k) != after.get(k)]
        for version, (before, after) in zip(versions[1:], pairwise(flat), strict=True)
    }


def _flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in record.items():
        if isinstance(value, list):
            for row, item in enumerate(value):
                flat |= _flatten(item, f"{prefix}{name}.{row}.")
        else:
            flat[prefix + name] = value
    return flat


@router.get("/persons/{involvement_id}")
def person_page(
    involvement_id: RowId, request: Request, principal: WebPrincipal, session: SessionDep
) -> Response:
    """A person as recorded in an incident, and the other incidents one may see where the
    same person appears, each with its score and reasons; the read is audited."""
    found = appearances.of_person(session, principal, involvement_id)
    audit_read(
        request,
        "person.read",
        object_type="person",
        object_id=involvement_id,
        detail=found.shown,
    )
    return render(request, "records/person.html", {"found": found})


@router.get("/vehicles/{vehicle_id}")
def vehicle_page(
    vehicle_id: RowId, request: Request, principal: WebPrincipal, session: SessionDep
) -> Response:
    """A vehicle, and the other incidents one may see that record it (by VIN or plate)."""
    found = appearances.of_vehicle(session, principal, vehicle_id)
    return _thing_page(request, "vehicle", found)


@router.get("/firearms/{firearm_id}")
def firearm_page(
    firearm_id: RowId, request: Request, principal: WebPrincipal, session: SessionDep
) -> Response:
    """A firearm, and the other incidents one may see that record its serial number."""
    found = appearances.of_firearm(session, principal, firearm_id)
    return _thing_page(request, "firearm", found)


@router.get("/documents/{document_id}")
def document_page(
    document_id: RowId, request: Request, principal: WebPrincipal, session: SessionDep
) -> Response:
    """An identity document, and the other incidents one may see that record its number."""
    found = appearances.of_document(session, principal, document_id)
    return _thing_page(request, "document", found)


def _thing_page(request: Request, kind: str, found: appearances.ThingAppearances) -> Response:
    audit_read(
        request,
        f"{kind}.read",
        object_type=kind,
        object_id=found.thing.id,
        detail=found.shown,
    )
    context = {"kind": kind, "found": found, "item_path": item_path}
    return render(request, "records/thing.html", context)


def item_path(item: shown.Item) -> str:
    """Return the path of the page of a person or thing as recorded in an incident
    (under its kind's name, as audit entries name it)."""
    return f"/{shown.KINDS[type(item)]}/{item.id}"


@router.get("/search")
def search_page(
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
        persons.check_query(query)
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
            "date_of_birth": date_of_birth,
            "plate": plate,
            "vin": vin,
            "serial": serial,
            "number": number,
        }.items()
        if v
    }
    if searched:
        audit_read(
            request,
            "search",
            object_type="incident",
            detail={"searched": searched, **shown.of_hits(person_hits, thing_hits)},
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
        "item_path": item_path,
    }
    return render(request, "records/search.html", context)
