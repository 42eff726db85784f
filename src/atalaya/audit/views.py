"""The audit log page for auditors: filter, read, page through."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import Response

from atalaya.accounts.authz import authorize
from atalaya.accounts.deps import SessionDep, SessionRoute, audit_read
from atalaya.accounts.views import WebPrincipal
from atalaya.audit import service as audit
from atalaya.audit.api import AuditEntryOut, is_country_wide
from atalaya.audit.models import AuditEntry
from atalaya.web.pages import render
from atalaya.web.pagination import paginate

router = APIRouter(include_in_schema=False, route_class=SessionRoute)


@router.get("/audit")
def audit_page(
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    actor: str = "",
    action: str = "",
    outcome: str = "",
    day: dt.date | None = None,
    cursor: str | None = None,
) -> Response:
    authorize(principal, "audit.read")
    since = dt.datetime.combine(day, dt.time(), dt.UTC) if day else None
    until = since + dt.timedelta(days=1) if since else None
    flt = audit.AuditFilter(
        actor or None, action or None, None, None, outcome or None, since, until
    )
    stmt = audit.query(principal.jurisdiction_path, flt, is_country_wide(principal))
    page = paginate(session, stmt, AuditEntry.seq, cursor, 50, AuditEntryOut.of)
    detail = {
        "filters": {"actor": actor, "action": action, "outcome": outcome, "day": day},
        "seqs": [e.seq for e in page.items],
    }
    audit_read(request, "audit.read", object_type="audit", detail=detail)
    filters = {"actor": actor, "action": action, "outcome": outcome, "day": day or ""}
    return render(request, "audit/list.html", {"page": page, "filters": filters})
