"""Hit/no-hit routes: users ask peers (``/api/v1/hits``), peers ask this node
(``/federation/hits``, signed envelopes only), owners watch their records."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import anyio
import httpx
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from atalaya.accounts.deps import (
    SessionDep,
    SessionRoute,
    SignedInRoute,
    audit_context,
    audit_from_thread,
    audit_read,
    get_runtime,
    signed_in,
)
from atalaya.db import utcnow
from atalaya.errors import DomainError
from atalaya.federation import hit_index, hit_queries, inbox, node
from atalaya.federation.api import EnvelopeBody, within_limit
from atalaya.federation.hits import Question
from atalaya.federation.models import HitNotification, HitQuery, Peer
from atalaya.records.service import incident_for
from atalaya.web.pagination import MAX_LIMIT, Page, paginate
from atalaya.web.problems import PROBLEM_RESPONSES

# Peers ask at HITS_PATH, proving who they are by signature; users of this node ask
# under /api/v1/hits, signed in.
peer_router = APIRouter(tags=["hits"], responses=PROBLEM_RESPONSES, route_class=SessionRoute)
router = APIRouter(tags=["hits"], responses=PROBLEM_RESPONSES, route_class=SignedInRoute)
QueryId = Annotated[str, Path(min_length=36, max_length=36, pattern=r"^[0-9a-f-]{36}$")]


@peer_router.post(
    hit_queries.HITS_PATH,
    response_class=Response,
    responses={200: {"content": {hit_queries.ENVELOPE_MEDIA_TYPE: {}}}},
)
def answer_query(request: Request, session: SessionDep, body: EnvelopeBody) -> Response:
    """Answer a peer's hit/no-hit query (a compact JWS, ``application/jose``) with a
    signed answer: hit with references, or no hit. Checked like the inbox; a refused
    query gets problem+json with its ``FED-1xx`` code and is audited."""
    runtime = get_runtime(request)
    settings = runtime.settings
    ctx = audit_context(request)
    attempt = inbox.Attempt()
    try:
        token = within_limit(body, settings.federation_max_envelope_bytes)
        identity = node.identity(session)
        node_keys = node.load_keys(session, settings)
        answered = hit_index.answer(
            session,
            settings,
            runtime.credentials,
            ctx,
            identity.node_id,
            node_keys,
            token,
            attempt,
            utcnow(),
        )
    except DomainError as error:
        session.rollback()
        audit_from_thread(request, inbox.rejection_entry(ctx, attempt, error))
        raise
    return Response(answered.token, media_type=hit_queries.ENVELOPE_MEDIA_TYPE)


async def _exchange(
    timeout: float, outgoing: list[hit_queries.Outgoing]
) -> list[hit_queries.Reply]:
    """Send the prepared queries to their peers together, on the event loop."""
    async with httpx.AsyncClient(timeout=timeout) as client:
        return await hit_queries.exchange(client, outgoing)


class HitQueryIn(BaseModel):
    model_config = {"extra": "forbid"}

    type: str = Field(max_length=10)
    purpose: str = Field(max_length=32)
    value: str = Field(default="", max_length=100)
    given_names: str = Field(default="", max_length=200)
    surnames: str = Field(default="", max_length=200)
    date_of_birth: str = Field(default="", max_length=10)
    peer: str | None = Field(default=None, max_length=64)


class PeerAnswerOut(BaseModel):
    query_id: str
    peer: str
    outcome: str
    references: list[str]
    code: str | None

    @classmethod
    def of(cls, row: HitQuery, peer: str) -> PeerAnswerOut:
        return cls(
            query_id=row.envelope_id,
            peer=peer,
            outcome=row.outcome,
            references=json.loads(row.references),
            code=row.code,
        )


class HitAnswersOut(BaseModel):
    type: str
    purpose: str
    answers: list[PeerAnswerOut]


@router.post("/api/v1/hits", response_model=HitAnswersOut)
def ask_peers(body: HitQueryIn, request: Request, session: SessionDep) -> HitAnswersOut:
    """Ask peers whether they hold a record of this identifier or person: each answers
    hit (with references) or no hit. Only a blinded value leaves this node."""
    principal = signed_in(request)
    settings = get_runtime(request).settings
    question = Question(
        body.type, body.purpose, body.value, body.given_names, body.surnames, body.date_of_birth
    )
    now = utcnow()
    outgoing = hit_queries.prepare(session, settings, principal, question, body.peer, now)
    # Nothing is written yet: end the read before waiting for the peers.
    session.commit()
    replies = anyio.from_thread.run(_exchange, settings.federation_timeout_seconds, outgoing)
    rows = hit_queries.settle(
        session, settings, audit_context(request), principal, outgoing, replies, utcnow()
    )
    answers = [PeerAnswerOut.of(r, o.peer.node_id) for r, o in zip(rows, outgoing, strict=True)]
    return HitAnswersOut(type=body.type, purpose=body.purpose, answers=answers)


class FollowupIn(BaseModel):
    model_config = {"extra": "forbid"}

    reference: str | None = Field(default=None, max_length=64)


class FollowupOut(BaseModel):
    query_id: str
    followup_envelope_id: str
    followup_at: dt.datetime


@router.post("/api/v1/hits/{query_id}/followup", status_code=202, response_model=FollowupOut)
def follow_up(
    query_id: QueryId,
    body: FollowupIn,
    request: Request,
    session: SessionDep,
) -> FollowupOut:
    """Ask the peer that answered a hit to follow it up: a signed ``hit.followup``
    is queued for it. Asking again changes nothing."""
    principal = signed_in(request)
    settings = get_runtime(request).settings
    row = hit_queries.follow_up(
        session, settings, audit_context(request), principal, query_id, body.reference
    )
    assert row.followup_envelope_id is not None and row.followup_at is not None
    return FollowupOut(
        query_id=row.envelope_id,
        followup_envelope_id=row.followup_envelope_id,
        followup_at=row.followup_at,
    )


class WatchIn(BaseModel):
    model_config = {"extra": "forbid"}

    incident_id: int = Field(ge=1, le=2**31 - 1)


class WatchOut(BaseModel):
    incident_id: int
    created_by: str
    created_at: dt.datetime


@router.post("/api/v1/hits/watches", status_code=201, response_model=WatchOut)
def watch_incident(body: WatchIn, request: Request, session: SessionDep) -> WatchOut:
    """Ask to be told when a peer's query hits one of your agency's incidents."""
    principal = signed_in(request)
    incident = incident_for(session, principal, "hit.watch", body.incident_id)
    found = hit_index.watch(session, audit_context(request), principal, incident)
    return WatchOut(
        incident_id=found.incident_id, created_by=found.created_by, created_at=found.created_at
    )


class NotificationOut(BaseModel):
    id: int
    event: str
    incident_id: int
    peer: str
    kind: str
    purpose: str
    reference: str
    requested_by: str | None
    created_at: dt.datetime


@router.get("/api/v1/hits/notifications", response_model=Page[NotificationOut])
def list_notifications(
    request: Request,
    session: SessionDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[NotificationOut]:
    """Your agency's notifications: peers' hits on watched incidents, and follow-ups."""
    principal = signed_in(request)
    stmt = hit_index.notifications_for(principal)
    peers = {id: name for id, name in session.execute(select(Peer.id, Peer.node_id))}

    def out(n: HitNotification) -> NotificationOut:
        return NotificationOut(
            id=n.id,
            event=n.event,
            incident_id=n.incident_id,
            peer=peers.get(n.peer_id, ""),
            kind=n.kind,
            purpose=n.purpose,
            reference=n.reference,
            requested_by=n.requested_by or None,
            created_at=n.created_at,
        )

    page = paginate(session, stmt, HitNotification.id, cursor, limit, out)
    audit_read(
        request,
        "hits.notifications_read",
        object_type="hit_notification",
        detail={
            "ids": [n.id for n in page.items],
            "incidents": sorted({n.incident_id for n in page.items}),
        },
    )
    return page
