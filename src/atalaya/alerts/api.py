"""JSON routes for alerts: issue, read (audited), change, cancel, acknowledge, list, and
the records an alert matches."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.accounts.authz import authorize
from atalaya.accounts.deps import (
    SessionDep,
    SignedInRoute,
    audit_context,
    audit_read,
    get_runtime,
    signed_in,
)
from atalaya.alerts import exchange, service
from atalaya.alerts.models import Alert
from atalaya.alerts.schema import AlertCancel, AlertChange, AlertIn
from atalaya.federation.models import NodeIdentity
from atalaya.records.service import incident_for
from atalaya.web.pagination import MAX_LIMIT, Page, RowId, paginate
from atalaya.web.problems import PROBLEM_RESPONSES

router = APIRouter(
    prefix="/api/v1", tags=["alerts"], responses=PROBLEM_RESPONSES, route_class=SignedInRoute
)
Uid = Annotated[str, Path(min_length=36, max_length=36, pattern=r"^[0-9a-f-]{36}$")]


def node_id(request: Request, session: Session) -> str:
    """This node's id: its identity once ``atalaya node init`` ran, else the setting."""
    found = session.scalar(select(NodeIdentity.node_id))
    return found or get_runtime(request).settings.node_id


class AlertOut(BaseModel):
    uid: str
    type: str
    status: str
    owner_node: str
    received_from: str | None
    agency: str | None
    version: int
    summary: str
    subject: dict[str, Any]
    review_date: dt.date
    due_for_review: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    cancelled_at: dt.datetime | None
    cancel_reason: str | None
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None

    @classmethod
    def of(cls, alert: Alert) -> AlertOut:
        return cls(
            uid=alert.uid,
            type=alert.type,
            status=alert.status,
            owner_node=alert.owner_node,
            received_from=alert.received_from or None,
            agency=alert.agency_code or None,
            version=alert.version,
            summary=alert.summary,
            subject=alert.subject,
            review_date=alert.review_date,
            due_for_review=alert.due_for_review(dt.date.today()),
            created_at=alert.created_at,
            updated_at=alert.updated_at,
            cancelled_at=alert.cancelled_at,
            cancel_reason=alert.cancel_reason or None,
            acknowledged_at=alert.acknowledged_at,
            acknowledged_by=alert.acknowledged_by or None,
        )


class MatchOut(BaseModel):
    incident_id: int
    reference: str
    agency: str
    occurred_from: str
    area: str
    kind: str
    matched: str
    score: float | None


class AlertDetailOut(AlertOut):
    # The records you may see that match the alert.
    matches: list[MatchOut]


async def alert_filter(
    type: Annotated[str | None, Query(max_length=20)] = None,
    status: Annotated[str | None, Query(pattern="^(active|cancelled)$")] = None,
    origin: Annotated[str | None, Query(pattern="^(received|issued)$")] = None,
    due_for_review: bool = False,
    vin: Annotated[str | None, Query(max_length=40)] = None,
    plate: Annotated[str | None, Query(max_length=20)] = None,
    serial: Annotated[str | None, Query(max_length=60)] = None,
    document: Annotated[str | None, Query(max_length=60)] = None,
    name: Annotated[str | None, Query(max_length=200)] = None,
) -> service.AlertFilter:
    """The list's filters; identifiers are compared normalised."""
    return service.AlertFilter(
        type, status, origin, due_for_review, vin, plate, serial, document, name
    )


@router.post("/alerts", status_code=201, response_model=AlertOut)
def issue_alert(body: AlertIn, request: Request, session: SessionDep) -> AlertOut:
    """Issue an alert for your agency, owned by this node. Every broken rule comes back
    together."""
    principal = signed_in(request)
    ctx = audit_context(request)
    alert = service.create_alert(session, ctx, principal, body, node_id(request, session))
    exchange.share(session, get_runtime(request).settings, alert, exchange.PUBLISH)
    return AlertOut.of(alert)


@router.get("/alerts", response_model=Page[AlertOut])
def list_alerts(
    request: Request,
    session: SessionDep,
    flt: Annotated[service.AlertFilter, Depends(alert_filter)],
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[AlertOut]:
    """The alerts this node holds (issued here or received from peers), newest first."""
    principal = signed_in(request)
    authorize(principal, "alert.read")
    page = paginate(session, service.listed(flt), Alert.id, cursor, limit, AlertOut.of)
    audit_read(
        request, "alert.list", object_type="alert", detail={"uids": [a.uid for a in page.items]}
    )
    return page


@router.get("/alerts/{uid}", response_model=AlertDetailOut)
def read_alert(uid: Uid, request: Request, session: SessionDep) -> AlertDetailOut:
    """Read an alert and the records you may see that match it (audited)."""
    principal = signed_in(request)
    alert = service.alert_for(session, principal, "alert.read", uid)
    matches = [
        MatchOut(
            incident_id=m.incident.id,
            reference=m.incident.reference,
            agency=m.incident.agency.code,
            occurred_from=m.incident.occurred_from,
            area=m.incident.area_code,
            kind=m.kind,
            matched=m.matched,
            score=m.score,
        )
        for m in service.matching_records(session, principal, alert)
    ]
    out = AlertDetailOut(**AlertOut.of(alert).model_dump(), matches=matches)
    incidents = sorted({m.incident_id for m in matches})
    audit_read(
        request, "alert.read", object_type="alert", object_id=uid, detail={"incidents": incidents}
    )
    return out


@router.put("/alerts/{uid}", response_model=AlertOut)
def change_alert(uid: Uid, body: AlertChange, request: Request, session: SessionDep) -> AlertOut:
    """Replace the content of an alert this node issued, giving the version you read."""
    principal = signed_in(request)
    alert = service.alert_for(session, principal, "alert.issue", uid)
    content = AlertIn(**body.model_dump(exclude={"version"}))
    service.update_alert(session, audit_context(request), principal, alert, content, body.version)
    exchange.share(session, get_runtime(request).settings, alert, exchange.PUBLISH)
    return AlertOut.of(alert)


@router.post("/alerts/{uid}/cancel", response_model=AlertOut)
def cancel_alert(uid: Uid, body: AlertCancel, request: Request, session: SessionDep) -> AlertOut:
    """Cancel an alert this node issued; the peers that hold it are told."""
    principal = signed_in(request)
    alert = service.alert_for(session, principal, "alert.issue", uid)
    ctx = audit_context(request)
    service.cancel_alert(session, ctx, principal, alert, body.reason, body.version)
    exchange.share(session, get_runtime(request).settings, alert, exchange.CANCEL)
    return AlertOut.of(alert)


@router.post("/alerts/{uid}/acknowledge", response_model=AlertOut)
def acknowledge_alert(uid: Uid, request: Request, session: SessionDep) -> AlertOut:
    """Acknowledge a deportation notice received from another node."""
    principal = signed_in(request)
    alert = service.alert_for(session, principal, "alert.acknowledge", uid)
    first = alert.acknowledged_at is None
    service.acknowledge(session, audit_context(request), principal, alert)
    if first:
        exchange.acknowledge_to_owner(session, get_runtime(request).settings, alert)
    return AlertOut.of(alert)


@router.get("/incidents/{incident_id}/alerts", response_model=Page[AlertOut])
def alerts_on_incident(incident_id: RowId, request: Request, session: SessionDep) -> Page[AlertOut]:
    """The active alerts that match something recorded in an incident you may see: a
    vehicle, firearm or document by identifier, a person by name and date of birth
    (audited, with the alerts shown)."""
    principal = signed_in(request)
    authorize(principal, "alert.read")
    incident = incident_for(session, principal, "record.read", incident_id)
    items = [AlertOut.of(a) for a in service.alerts_for_incident(session, incident)]
    audit_read(
        request,
        "alert.list",
        object_type="alert",
        detail={"incident": incident_id, "uids": [a.uid for a in items]},
    )
    return Page[AlertOut](items=items, total=len(items), next=None)
