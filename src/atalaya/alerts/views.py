"""Browser pages for alerts: the inbox (received and issued, with filters), one alert with
the records it matches, and the forms that cancel or acknowledge it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from atalaya.accounts.authz import authorize
from atalaya.accounts.deps import (
    SessionDep,
    SessionRoute,
    SubmittedForm,
    audit_context,
    audit_read,
    get_runtime,
)
from atalaya.accounts.views import CsrfDep, WebPrincipal
from atalaya.alerts import exchange, service
from atalaya.alerts.api import node_id
from atalaya.alerts.models import Alert, AlertType
from atalaya.alerts.schema import AlertIn
from atalaya.errors import DomainError, FieldError, field_errors_from_pydantic, message_for
from atalaya.i18n import N_, translator
from atalaya.records.vocabularies import vocabularies
from atalaya.web.language import request_language
from atalaya.web.pages import render
from atalaya.web.pagination import paginate

router = APIRouter(include_in_schema=False, route_class=SessionRoute)

TYPE_LABELS = {
    AlertType.WANTED: N_("Wanted person"),
    AlertType.MISSING: N_("Missing person"),
    AlertType.STOLEN_VEHICLE: N_("Stolen vehicle"),
    AlertType.STOLEN_FIREARM: N_("Stolen or lost firearm"),
    AlertType.STOLEN_DOCUMENT: N_("Stolen or lost document"),
    AlertType.DEPORTATION: N_("Deportation notice"),
}
PART_LABELS = {
    "person": N_("Person"),
    "vehicle": N_("Vehicle"),
    "firearm": N_("Firearm"),
    "document": N_("Document"),
    "deportation": N_("Deportation"),
}
LABELS = {"type_labels": TYPE_LABELS, "part_labels": PART_LABELS}


@router.get("/alerts")
def inbox(
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    origin: str = "",
    type: str = "",
    status: str = "active",
    due_for_review: bool = False,
    cursor: str | None = None,
) -> Response:
    """The alerts this node holds, newest first: received from peers and issued here."""
    authorize(principal, "alert.read")
    flt = service.AlertFilter(
        type=type if type in set(AlertType) else None,
        status=status if status in ("active", "cancelled") else None,
        origin=origin if origin in ("received", "issued") else None,
        due_for_review=due_for_review,
    )
    page = paginate(session, service.listed(flt), Alert.id, cursor, 50, lambda a: a)
    audit_read(
        request, "alert.list", object_type="alert", detail={"uids": [a.uid for a in page.items]}
    )
    filters = {"origin": origin, "type": type, "status": status, "due": due_for_review}
    context = {"page": page, "filters": filters, "types": list(AlertType), "today": _today()}
    context |= LABELS
    return render(request, "alerts/list.html", context)


# The form's fields: its part (top level or a nested object) and name.
FORM_PARTS: dict[str, tuple[str, ...]] = {
    "": ("type", "summary", "review_date", "warrant_reference", "issuing_authority"),
    "person": ("given_names", "surnames", "date_of_birth", "sex", "nationality", "description"),
    "vehicle": ("vin", "plate", "plate_area", "make", "model", "colour"),
    "firearm": ("serial", "make", "model", "calibre"),
    "document": ("type", "number", "issuing_country"),
    "deportation": (
        "deporting_country", "arrival_date", "arrival_place", "transport", "criminal_record",
    ),
}  # fmt: skip


def alert_from_form(form: dict[str, str]) -> dict[str, Any]:
    """Return the alert the form describes: its top fields, and each part of which at
    least one field is filled in (``person.surnames``...)."""
    body: dict[str, Any] = {}
    for part, names in FORM_PARTS.items():
        values = {n: form[f"{part}.{n}" if part else n].strip() for n in names
                  if (form.get(f"{part}.{n}" if part else n) or "").strip()}  # fmt: skip
        if part:
            if values:
                body[part] = values
        else:
            body.update(values)
    return body


@router.get("/alerts/new")
async def new_alert_page(request: Request, principal: WebPrincipal) -> Response:
    """The form to issue an alert."""
    authorize(principal, "alert.issue")
    return _render_form(request, {"type": AlertType.STOLEN_VEHICLE.value}, {})


@router.post("/alerts/new", dependencies=[CsrfDep])
def issue_alert(
    request: Request, principal: WebPrincipal, session: SessionDep, form: SubmittedForm
) -> Response:
    """Issue the alert, or show the form again with each message beside its field."""
    authorize(principal, "alert.issue")
    tr = translator(request_language(request))
    try:
        data = AlertIn.model_validate(alert_from_form(form))
        alert = service.create_alert(
            session, audit_context(request), principal, data, node_id(request, session)
        )
    except ValidationError as error:
        errors = field_errors_from_pydantic(error.errors())
        return _render_form(request, form, {e.field: message_for(e.code, tr) for e in errors})
    except DomainError as error:
        problems = error.errors or [FieldError(error.field or "type", error.code, error.params)]
        messages = {e.field: message_for(e.code, tr, e.params) for e in problems}
        return _render_form(request, form, messages)
    exchange.share(session, get_runtime(request).settings, alert, exchange.PUBLISH)
    return RedirectResponse(f"/alerts/{alert.uid}", status_code=303)


def _render_form(request: Request, form: dict[str, str], errors: dict[str, str]) -> Response:
    placed = {f"{part}.{n}" if part else n for part, names in FORM_PARTS.items() for n in names}
    context = {
        "form": form,
        "errors": errors,
        "unplaced": [message for field, message in errors.items() if field not in placed],
        "types": list(AlertType),
        "sexes": sorted(vocabularies()["sex"]),
        **LABELS,
    }
    return render(request, "alerts/form.html", context, status=422 if errors else 200)


@router.get("/alerts/{uid}")
def alert_page(
    uid: str, request: Request, principal: WebPrincipal, session: SessionDep
) -> Response:
    """One alert, what it says, and the records the viewer may see that match it."""
    alert = service.alert_for(session, principal, "alert.read", uid[:36])
    matches = service.matching_records(session, principal, alert)
    incidents = sorted({m.incident.id for m in matches})
    audit_read(
        request,
        "alert.read",
        object_type="alert",
        object_id=alert.uid,
        detail={"incidents": incidents},
    )
    context = {
        "alert": alert,
        "matches": matches,
        "today": _today(),
        "may_cancel": _may_change(principal, alert),
        "may_acknowledge": principal.may("alert.acknowledge")
        and alert.type == AlertType.DEPORTATION
        and alert.received
        and alert.acknowledged_at is None,
        **LABELS,
    }
    return render(request, "alerts/detail.html", context)


@router.post("/alerts/{uid}/cancel", dependencies=[CsrfDep])
def cancel(
    uid: str, request: Request, principal: WebPrincipal, session: SessionDep, form: SubmittedForm
) -> Response:
    """Cancel the alert (the form gives the reason and the version it was read at)."""
    alert = service.alert_for(session, principal, "alert.issue", uid[:36])
    reason = str(form.get("reason", "")).strip()[:500]
    if not reason:
        raise DomainError("ALR-102", field="reason", params={"part": "reason"})
    version = int(str(form.get("version", "0")) or 0)
    service.cancel_alert(session, audit_context(request), principal, alert, reason, version)
    exchange.share(session, get_runtime(request).settings, alert, exchange.CANCEL)
    return RedirectResponse(f"/alerts/{alert.uid}", status_code=303)


@router.post("/alerts/{uid}/acknowledge", dependencies=[CsrfDep])
def acknowledge(
    uid: str, request: Request, principal: WebPrincipal, session: SessionDep
) -> Response:
    """Acknowledge the deportation notice."""
    alert = service.alert_for(session, principal, "alert.acknowledge", uid[:36])
    first = alert.acknowledged_at is None
    service.acknowledge(session, audit_context(request), principal, alert)
    if first:
        exchange.acknowledge_to_owner(session, get_runtime(request).settings, alert)
    return RedirectResponse(f"/alerts/{alert.uid}", status_code=303)


def _may_change(principal: WebPrincipal, alert: Alert) -> bool:
    try:
        service.may_change(principal, alert, alert.version)
    except DomainError:
        return False
    return True


def _today() -> dt.date:
    return dt.date.today()
