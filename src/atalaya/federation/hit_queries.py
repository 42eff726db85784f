"""Asking peers whether they hold a record: hit or no hit, and follow-ups of a hit.

A query goes in three steps, so that no transaction is open while peers are waited
for: ``prepare`` (authorize, normalise, blind per peer, seal: nothing written),
``exchange`` (post to every peer at once), ``settle`` (verify each answer, record and
audit it). The identifier asked about lives only in memory during ``prepare``: what is
recorded is who asked, why, of which kind, whom, and the answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from dataclasses import dataclass

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.accounts.authz import Principal, authorize
from atalaya.audit import service as audit
from atalaya.audit.service import AuditContext
from atalaya.db import utcnow
from atalaya.errors import DomainError
from atalaya.federation import hit_index, inbox, node, outbox
from atalaya.federation.agreements import agreement_allowing
from atalaya.federation.envelopes import Envelope, new_envelope_id, seal
from atalaya.federation.hits import (
    ANSWER_TYPE,
    MAX_REFERENCES,
    QUERY_LIFETIME,
    REFERENCE_LIFETIME,
    Question,
    blind,
    shared_key,
)
from atalaya.federation.models import (
    Direction,
    HitOutcome,
    HitQuery,
    KeyUse,
    Peer,
    PeerStatus,
)
from atalaya.federation.peers import current_key, get_peer
from atalaya.settings import Settings

HITS_PATH = "/federation/hits"
ENVELOPE_MEDIA_TYPE = "application/jose"
CODE = re.compile(r"[A-Z]{3}-\d{3}")


@dataclass(frozen=True)
class Outgoing:
    """A sealed query for one peer."""

    peer: Peer
    envelope: Envelope
    token: str
    kind: str
    purpose: str


def prepare(
    session: Session,
    settings: Settings,
    principal: Principal,
    question: Question,
    peer_id: str | None,
    now: dt.datetime,
) -> list[Outgoing]:
    """Return the query sealed for each peer an agreement lets this node ask (or for
    ``peer_id`` alone). Raises ``FED-15x`` for a bad question, ``FED-112`` when
    ``peer_id`` may not be asked, ``FED-158`` when no peer may."""
    authorize(principal, "hit.query")
    kind, form = question.normalised()
    identity = node.identity(session)
    node_keys = node.load_keys(session, settings)
    if peer_id is not None:
        candidates = [get_peer(session, peer_id)]
    else:
        query = select(Peer).where(Peer.status == PeerStatus.ACTIVE).order_by(Peer.node_id)
        candidates = list(session.scalars(query).all())
    peers = [
        p
        for p in candidates
        if p.status == PeerStatus.ACTIVE
        and agreement_allowing(session, p, Direction.SEND, kind.data_class, now) is not None
    ]
    if peer_id is not None and not peers:
        raise DomainError("FED-112", params={"data_class": kind.data_class})
    if not peers:
        raise DomainError("FED-158", params={"data_class": kind.data_class})
    outgoing = []
    for peer in peers:
        peer_key = current_key(peer, KeyUse.ENCRYPTION).jwk
        key = shared_key(identity.node_id, node_keys.encryption, peer.node_id, peer_key)
        body = {
            "kind": kind.code,
            "blinded": blind(key, kind.code, form),
            "purpose": question.purpose,
            "keys": key.key_id,
        }
        envelope = Envelope(
            new_envelope_id(int(now.timestamp() * 1000)),
            identity.node_id,
            peer.node_id,
            kind.envelope_type,
            now,
            now + QUERY_LIFETIME,
            body,
        )
        token = seal(envelope, node_keys.signing, peer_key)
        outgoing.append(Outgoing(peer, envelope, token, kind.code, question.purpose))
    return outgoing


@dataclass(frozen=True)
class Reply:
    """What came back from a peer: an HTTP answer, or the transport error's name."""

    status: int | None
    content: bytes = b""
    content_type: str = ""
    problem: str | None = None


async def exchange(client: httpx.AsyncClient, outgoing: list[Outgoing]) -> list[Reply]:
    """Post every query to its peer at once; return the replies in the same order."""
    return list(await asyncio.gather(*(_post(client, o) for o in outgoing)))


async def _post(client: httpx.AsyncClient, outgoing: Outgoing) -> Reply:
    try:
        response = await client.post(
            outgoing.peer.url + HITS_PATH,
            content=outgoing.token.encode("ascii"),
            headers={"content-type": ENVELOPE_MEDIA_TYPE},
            follow_redirects=False,
        )
    except httpx.HTTPError as error:
        return Reply(None, problem=type(error).__name__)
    return Reply(response.status_code, response.content, response.headers.get("content-type", ""))


@dataclass(frozen=True)
class Verdict:
    outcome: HitOutcome
    references: list[str]
    code: str | None = None


class AnswerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(max_length=36)
    outcome: HitOutcome
    references: list[str] = Field(max_length=MAX_REFERENCES)


def verdict(
    session: Session,
    settings: Settings,
    node_id: str,
    outgoing: Outgoing,
    reply: Reply,
    now: dt.datetime,
) -> Verdict:
    """Return what the peer's reply says: a verified hit or no hit, its refusal's code,
    or an error (``FED-160`` unreachable, ``FED-159`` an answer that does not verify)."""
    if reply.status is None:
        return Verdict(HitOutcome.ERROR, [], "FED-160")
    if reply.status == 200 and reply.content_type.startswith(ENVELOPE_MEDIA_TYPE):
        try:
            return verified_answer(session, settings, node_id, outgoing, reply.content, now)
        except DomainError as error:
            return Verdict(HitOutcome.ERROR, [], error.code)
    try:
        code = json.loads(reply.content).get("code")
    except (ValueError, AttributeError):
        code = None
    if reply.status >= 400 and isinstance(code, str) and CODE.fullmatch(code):
        return Verdict(HitOutcome.REFUSED, [], code)
    return Verdict(HitOutcome.ERROR, [], "FED-159")


def verified_answer(
    session: Session,
    settings: Settings,
    node_id: str,
    outgoing: Outgoing,
    token: bytes,
    now: dt.datetime,
) -> Verdict:
    """Return the answer in ``token`` if the peer asked signed it, for this node, to
    this query; raise the ``FED-1xx`` of the first check that fails otherwise."""
    limit = settings.federation_max_envelope_bytes
    key, peer = inbox._signing_key(session, token, inbox.Attempt(), limit, now)
    claims = inbox._claims(token, key, limit)
    if peer.id != outgoing.peer.id or claims.sender != peer.node_id:
        raise DomainError("FED-105")
    envelope = inbox._envelope(claims, node_id, settings, now)
    if envelope.type != ANSWER_TYPE or claims.body is None:
        raise DomainError("FED-159", params={"problem": "type"})
    try:
        body = AnswerBody.model_validate(envelope.body)
    except ValidationError as error:
        raise DomainError("FED-159", params={"problem": "body"}) from error
    answered = (HitOutcome.HIT, HitOutcome.NO_HIT)
    if body.query != outgoing.envelope.id or body.outcome not in answered:
        raise DomainError("FED-159", params={"problem": "query"})
    if (body.outcome == HitOutcome.HIT) != bool(body.references):
        raise DomainError("FED-159", params={"problem": "references"})
    return Verdict(body.outcome, [r[:64] for r in body.references])


def settle(
    session: Session,
    settings: Settings,
    ctx: AuditContext,
    principal: Principal,
    outgoing: list[Outgoing],
    replies: list[Reply],
    now: dt.datetime,
) -> list[HitQuery]:
    """Record and audit each peer's answer; return the recorded queries."""
    node_id = node.identity(session).node_id
    recorded = []
    for sent, reply in zip(outgoing, replies, strict=True):
        found = verdict(session, settings, node_id, sent, reply, now)
        row = HitQuery(
            envelope_id=sent.envelope.id,
            peer_id=sent.peer.id,
            user_id=principal.user_id,
            agency_id=principal.agency_id,
            kind=sent.kind,
            purpose=sent.purpose,
            outcome=found.outcome,
            code=found.code,
            references=json.dumps(found.references),
            asked_at=now,
        )
        session.add(row)
        audit.record(
            session,
            ctx,
            "hits.query",
            object_type="hit_query",
            object_id=sent.envelope.id,
            detail={
                "peer": sent.peer.node_id,
                "kind": sent.kind,
                "purpose": sent.purpose,
                "outcome": str(found.outcome),
                **({"code": found.code} if found.code else {}),
            },
        )
        recorded.append(row)
    session.flush()
    return recorded


def follow_up(
    session: Session,
    settings: Settings,
    ctx: AuditContext,
    principal: Principal,
    query_id: str,
    reference: str | None = None,
) -> HitQuery:
    """Queue a signed ``hit.followup`` to the peer that answered query ``query_id`` with
    a hit (for ``reference``, or its first); return the query. Asking again changes
    nothing. Raises ``FED-156`` unless the query is the principal's agency's,
    ``FED-157`` unless it is a hit with that reference, ``FED-161`` once the peer no
    longer resolves its references, ``FED-112`` without an agreement for follow-ups."""
    authorize(principal, "hit.query")
    row = session.scalar(select(HitQuery).where(HitQuery.envelope_id == query_id))
    if row is None or row.agency_id != principal.agency_id:
        raise DomainError("FED-156", params={"id": query_id})
    if row.followup_envelope_id is not None:
        return row
    references: list[str] = json.loads(row.references)
    chosen = reference or (references[0] if references else None)
    if row.outcome != HitOutcome.HIT or chosen not in references:
        raise DomainError("FED-157")
    now = utcnow()
    if now >= row.asked_at + REFERENCE_LIFETIME:
        raise DomainError("FED-161")
    peer = session.get_one(Peer, row.peer_id)
    queued = outbox.enqueue(
        session,
        node.identity(session).node_id,
        node.load_keys(session, settings),
        peer,
        hit_index.FOLLOWUP_TYPE,  # registered, with its handler, by hit_index
        {
            "query": row.envelope_id,
            "reference": chosen,
            "purpose": row.purpose,
            "requested_by": f"{principal.agency_code}/{principal.username}",
        },
        now=now,
    )
    row.followup_envelope_id = queued.envelope_id
    row.followup_by = principal.username
    row.followup_at = queued.created_at
    audit.record(
        session,
        ctx,
        "hits.followup",
        object_type="hit_query",
        object_id=row.envelope_id,
        detail={"peer": peer.node_id, "envelope": queued.envelope_id},
    )
    return row
