"""Browser pages for incidents: the list with its filters, and one incident in full."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import Response

from atalaya.accounts.authz import authorize
from atalaya.accounts.deps import SessionDep, audit_read
from atalaya.accounts.views import WebPrincipal
from atalaya.classification.iccs import iccs
from atalaya.records import service
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
    cursor: str | None = None,
) -> Response:
    """Incidents the user may see, newest first, with the list's filters."""
    authorize(principal, "record.read")
    flt = service.IncidentFilter(
        area=area or None,
        iccs=iccs_code if iccs_code.isdigit() else None,
        status=status or None,
        occurred_since=dt.datetime.combine(since, dt.time(), dt.UTC) if since else None,
        occurred_until=dt.datetime.combine(until, dt.time(), dt.UTC) if until else None,
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
    }
    return render(request, "records/list.html", {"page": page, "filters": filters, "iccs": iccs()})


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
