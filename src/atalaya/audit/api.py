"""The audit log for auditors: list and filter. There is deliberately no write route."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from atalaya.accounts.authz import Principal, authorize
from atalaya.accounts.deps import SessionDep, SignedInRoute, audit_read, signed_in
from atalaya.audit import service as audit
from atalaya.audit.models import AuditEntry
from atalaya.db import as_utc
from atalaya.web.pagination import MAX_LIMIT, Page, paginate
from atalaya.web.problems import PROBLEM_RESPONSES

router = APIRouter(
    prefix="/api/v1", tags=["audit"], responses=PROBLEM_RESPONSES, route_class=SignedInRoute
)


class AuditEntryOut(BaseModel):
    seq: int
    at: dt.datetime
    actor_type: str
    actor: str | None
    agency: str | None
    token_id: int | None
    peer_node: str | None
    action: str
    object_type: str | None
    object_id: str | None
    request_id: str | None
    client_address: str | None
    outcome: str
    detail: str
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, e: AuditEntry) -> AuditEntryOut:
        return cls(
            seq=e.seq,
            at=e.at,
            actor_type=e.actor_type,
            actor=e.actor_username,
            agency=e.agency_code,
            token_id=e.token_id,
            peer_node=e.peer_node,
            action=e.action,
            object_type=e.object_type,
            object_id=e.object_id,
            request_id=e.request_id,
            client_address=e.client_address,
            outcome=e.outcome,
            detail=e.detail,
            prev_hash=e.prev_hash,
            hash=e.hash,
        )


def is_country_wide(principal: Principal) -> bool:
    return principal.jurisdiction_path.count("/") == 2


@router.get("/audit", response_model=Page[AuditEntryOut])
def list_audit(
    request: Request,
    session: SessionDep,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    outcome: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> Page[AuditEntryOut]:
    """List audit entries inside the auditor's jurisdiction, newest first."""
    principal = signed_in(request)
    authorize(principal, "audit.read")
    flt = audit.AuditFilter(
        actor, action, object_type, object_id, outcome, as_utc(since), as_utc(until)
    )
    stmt = audit.query(principal.jurisdiction_path, flt, is_country_wide(principal))
    page = paginate(session, stmt, AuditEntry.seq, cursor, limit, AuditEntryOut.of)
    filters = {k: v for k, v in vars(flt).items() if v}
    detail = {"filters": filters, "seqs": [e.seq for e in page.items]}
    audit_read(request, "audit.read", object_type="audit", detail=detail)
    return page
