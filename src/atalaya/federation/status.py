"""How delivery to each peer is going, for operators: ``GET /api/v1/federation/peers``
and the page ``/admin/federation`` (administrators and auditors)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atalaya.accounts.authz import authorize
from atalaya.accounts.deps import SessionDep, SessionRoute, SignedInRoute, signed_in
from atalaya.accounts.views import WebPrincipal
from atalaya.db import utcnow
from atalaya.federation.models import (
    BreakerState,
    OutboxEnvelope,
    OutboxStatus,
    Peer,
    PeerDelivery,
)
from atalaya.web.pages import render
from atalaya.web.problems import PROBLEM_RESPONSES

# The page is for signed-in browsers (``WebPrincipal``); the API for signed-in callers.
pages = APIRouter(responses=PROBLEM_RESPONSES, route_class=SessionRoute)
router = APIRouter(responses=PROBLEM_RESPONSES, route_class=SignedInRoute)


@dataclass(frozen=True)
class PeerQueue:
    """One peer's queue as operators see it."""

    node_id: str
    name: str
    url: str
    status: str
    queue_depth: int  # pending envelopes
    failed: int  # refused for good, or dropped (expired, agreement revoked)
    delivered: int
    oldest_pending_at: dt.datetime | None
    oldest_pending_attempts: int | None
    last_success_at: dt.datetime | None
    last_failure_at: dt.datetime | None
    last_error: str | None
    consecutive_failures: int
    breaker: BreakerState
    breaker_open_until: dt.datetime | None
    last_ping_at: dt.datetime | None


def peer_queues(session: Session, now: dt.datetime) -> list[PeerQueue]:
    """Return every peer's queue depth, failures, last success and breaker, by node id."""
    counts: dict[tuple[int, str], int] = {
        (peer_id, status): count
        for peer_id, status, count in session.execute(
            select(OutboxEnvelope.peer_id, OutboxEnvelope.status, func.count()).group_by(
                OutboxEnvelope.peer_id, OutboxEnvelope.status
            )
        )
    }
    states = {s.peer_id: s for s in session.scalars(select(PeerDelivery))}
    peers = session.scalars(select(Peer).order_by(Peer.node_id)).all()
    return [_queue(session, p, counts, states.get(p.id), now) for p in peers]


def _queue(
    session: Session,
    peer: Peer,
    counts: dict[tuple[int, str], int],
    state: PeerDelivery | None,
    now: dt.datetime,
) -> PeerQueue:
    oldest = session.execute(
        select(OutboxEnvelope.created_at, OutboxEnvelope.attempts)
        .where(OutboxEnvelope.peer_id == peer.id, OutboxEnvelope.status == OutboxStatus.PENDING)
        .order_by(OutboxEnvelope.id)
        .limit(1)
    ).first()
    return PeerQueue(
        node_id=peer.node_id,
        name=peer.name,
        url=peer.url,
        status=peer.status,
        queue_depth=counts.get((peer.id, OutboxStatus.PENDING), 0),
        failed=counts.get((peer.id, OutboxStatus.FAILED), 0),
        delivered=counts.get((peer.id, OutboxStatus.DELIVERED), 0),
        oldest_pending_at=oldest[0] if oldest else None,
        oldest_pending_attempts=oldest[1] if oldest else None,
        last_success_at=state.last_success_at if state else None,
        last_failure_at=state.last_failure_at if state else None,
        last_error=state.last_error if state else None,
        consecutive_failures=state.consecutive_failures if state else 0,
        breaker=state.breaker(now) if state else BreakerState.CLOSED,
        breaker_open_until=state.open_until if state else None,
        last_ping_at=peer.last_ping_at,
    )


class PeerQueueOut(BaseModel):
    node_id: str
    name: str
    url: str
    status: str
    queue_depth: int
    failed: int
    delivered: int
    oldest_pending_at: dt.datetime | None
    oldest_pending_attempts: int | None
    last_success_at: dt.datetime | None
    last_failure_at: dt.datetime | None
    last_error: str | None
    consecutive_failures: int
    breaker: BreakerState
    breaker_open_until: dt.datetime | None
    last_ping_at: dt.datetime | None


class PeerQueuesPage(BaseModel):
    items: list[PeerQueueOut]
    total: int
    next: str | None = None


@router.get("/api/v1/federation/peers", tags=["federation"], response_model=PeerQueuesPage)
def list_peer_queues(request: Request, session: SessionDep) -> PeerQueuesPage:
    """Each peer's delivery: queue depth, failures, attempts of the oldest pending
    envelope, last success, last error and circuit breaker."""
    principal = signed_in(request)
    authorize(principal, "federation.read")
    items = [PeerQueueOut(**asdict(q)) for q in peer_queues(session, utcnow())]
    return PeerQueuesPage(items=items, total=len(items))


@pages.get("/admin/federation", include_in_schema=False)
def peer_queues_page(request: Request, principal: WebPrincipal, session: SessionDep) -> Response:
    authorize(principal, "federation.read")
    return render(request, "federation/peers.html", {"queues": peer_queues(session, utcnow())})
