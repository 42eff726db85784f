"""Receiving an envelope: every check, in order, before anything is stored.

A rejected envelope changes nothing but the audit log (``rejection_entry``, written by
the caller after rolling back). An accepted one is recorded in the inbox, whose unique
envelope id refuses a replay, and handed to its type's handler in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atalaya.audit import service as audit
from atalaya.audit.service import Actor, AuditContext, Outcome
from atalaya.errors import DomainError, message_for
from atalaya.federation import envelopes
from atalaya.federation.agreements import agreement_allowing
from atalaya.federation.envelopes import Envelope
from atalaya.federation.handlers import TYPES, Delivery
from atalaya.federation.keys import NodeKeys
from atalaya.federation.models import (
    Agreement,
    Direction,
    HitQueryReceived,
    InboxEnvelope,
    KeyUse,
    Peer,
    PeerKey,
    PeerStatus,
)
from atalaya.i18n import translator
from atalaya.settings import Settings

log = logging.getLogger(__name__)
KID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Claims(BaseModel):
    """The signed payload of an envelope; anything else in it is refused."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    sender: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")
    recipient: str = Field(max_length=64)
    type: str = Field(pattern=r"^[a-z][a-z0-9_.]{0,63}$")
    created: AwareDatetime
    expires: AwareDatetime
    body: dict[str, Any] | None = None
    body_jwe: str | None = None


@dataclass
class Attempt:
    """What is known of an envelope being received, for the audit entry if it fails.
    Only what has been verified is filled in."""

    peer_node: str | None = None
    envelope_id: str | None = None
    type: str | None = None
    kid: str | None = None


@dataclass(frozen=True)
class Accepted:
    entry: InboxEnvelope
    delivery: Delivery


def receive(
    session: Session,
    settings: Settings,
    node_id: str,
    node_keys: NodeKeys,
    token: bytes,
    attempt: Attempt,
    now: dt.datetime,
) -> Accepted:
    """Check ``token`` as an envelope for ``node_id``, record and handle it; return it.

    Raises a ``FED-1xx`` ``DomainError`` for the first check that fails (see
    docs/federation.md for the order); nothing is stored then.
    """
    limit = settings.federation_max_envelope_bytes
    if len(token) > limit:
        raise DomainError("FED-113", params={"max": limit})
    key, peer = _signing_key(session, token, attempt, limit, now)
    claims = _claims(token, key, limit)
    if claims.sender != peer.node_id:
        raise DomainError("FED-105")
    attempt.peer_node, attempt.envelope_id, attempt.type = peer.node_id, str(claims.id), claims.type
    envelope = _envelope(claims, node_id, settings, now)
    if session.scalar(select(InboxEnvelope.id).where(InboxEnvelope.envelope_id == envelope.id)):
        raise DomainError("FED-110")
    agreement = _agreement(session, peer, envelope, claims, now)
    if claims.body_jwe is not None:
        envelope = _opened(envelope, claims.body_jwe, node_keys, limit)
    delivery = Delivery(envelope, peer, agreement, now)
    entry = _record(session, delivery, token)
    TYPES[envelope.type].handle(session, delivery)
    return Accepted(entry, delivery)


def _signing_key(
    session: Session, token: bytes, attempt: Attempt, limit: int, now: dt.datetime
) -> tuple[PeerKey, Peer]:
    try:
        header = envelopes.unverified(token, limit).header
    except envelopes.NotAnEnvelope as error:
        raise DomainError("FED-101") from error
    kid = header["kid"]
    attempt.kid = kid if KID.fullmatch(kid) else None
    key = session.scalar(
        select(PeerKey).where(PeerKey.kid == kid, PeerKey.use == KeyUse.SIGNING).limit(1)
    )
    if key is None or key.peer.status != PeerStatus.ACTIVE:
        raise DomainError("FED-103")
    if key.valid_until is not None and key.valid_until <= now:
        raise DomainError("FED-104")
    return key, key.peer


def _claims(token: bytes, key: PeerKey, limit: int) -> Claims:
    payload = envelopes.verified_payload(token, key.jwk, limit)
    if payload is None:
        raise DomainError("FED-102")
    try:
        claims = Claims.model_validate_json(payload)
    except ValidationError as error:
        problem = ", ".join(".".join(map(str, e["loc"])) or e["type"] for e in error.errors())
        raise DomainError("FED-106", params={"problem": problem[:200]}) from error
    if (claims.body is None) == (claims.body_jwe is None):
        raise DomainError("FED-106", params={"problem": "body or body_jwe"})
    if claims.id.version != 7:
        raise DomainError("FED-106", params={"problem": "id"})
    return claims


def _envelope(claims: Claims, node_id: str, settings: Settings, now: dt.datetime) -> Envelope:
    skew = dt.timedelta(seconds=settings.federation_clock_skew_seconds)
    if claims.recipient != node_id:
        raise DomainError("FED-109")
    if claims.expires <= claims.created:
        raise DomainError("FED-106", params={"problem": "expires"})
    if claims.expires <= now - skew:
        raise DomainError("FED-107")
    if claims.created > now + skew:
        raise DomainError("FED-108")
    return Envelope(
        str(claims.id),
        claims.sender,
        claims.recipient,
        claims.type,
        claims.created.astimezone(dt.UTC),
        claims.expires.astimezone(dt.UTC),
        claims.body or {},
    )


def _agreement(
    session: Session, peer: Peer, envelope: Envelope, claims: Claims, now: dt.datetime
) -> Agreement:
    envelope_type = TYPES.get(envelope.type)
    if envelope_type is None:
        raise DomainError("FED-111", params={"type": envelope.type})
    if envelope_type.confidential and claims.body_jwe is None:
        raise DomainError("FED-116", params={"type": envelope.type})
    data_class = envelope_type.data_class
    agreement = agreement_allowing(session, peer, Direction.RECEIVE, data_class, now)
    if agreement is None:
        raise DomainError("FED-112", params={"data_class": data_class})
    if agreement.daily_limit is not None:
        refuse_past_quota(session, peer, agreement, now, "FED-114", agreement.daily_limit)
    return agreement


def refuse_past_quota(
    session: Session,
    peer: Peer,
    agreement: Agreement,
    now: dt.datetime,
    code: str,
    limit: int,
    counted: tuple[type[InboxEnvelope] | type[HitQueryReceived], ...] = (
        InboxEnvelope,
        HitQueryReceived,
    ),
) -> None:
    """Raise ``code`` once what ``peer`` sent in the last day under ``agreement`` (any
    version), the envelopes and hit/no-hit queries ``counted``, reaches ``limit``; the
    error says when the oldest of them leaves the day (``retry_after``, in seconds, which
    the answer gives as ``Retry-After``)."""
    # Counted and then recorded in this transaction: what the same peer sends takes its
    # turn on its row (SQLite's writers already take theirs), so that concurrent
    # envelopes or queries cannot each find room under the limit.
    session.execute(select(Peer.id).where(Peer.id == peer.id).with_for_update())
    since = now - dt.timedelta(days=1)
    same = select(Agreement.id).where(Agreement.reference == agreement.reference)
    found = [_received(session, model, peer, same, since) for model in counted]
    if sum(count for count, _ in found) >= limit:
        oldest = min((first for _, first in found if first is not None), default=now)
        wait = (oldest + dt.timedelta(days=1) - now).total_seconds()
        raise DomainError(code, params={"limit": limit, "retry_after": max(1, math.ceil(wait))})


def _received(
    session: Session,
    model: type[InboxEnvelope] | type[HitQueryReceived],
    peer: Peer,
    agreements: Select[int],
    since: dt.datetime,
) -> tuple[int, dt.datetime | None]:
    """Return how many ``model`` rows came from ``peer`` under ``agreements`` after
    ``since``, and when the first of them came."""
    count, first = session.execute(
        select(func.count(model.id), func.min(model.received_at)).where(
            model.peer_id == peer.id, model.agreement_id.in_(agreements), model.received_at > since
        )
    ).one()
    return count, first


def _opened(envelope: Envelope, body_jwe: str, node_keys: NodeKeys, limit: int) -> Envelope:
    keys = [k for k in (node_keys.encryption, node_keys.previous_encryption) if k is not None]
    body = envelopes.decrypt_body(body_jwe, keys, envelope, limit)
    if body is None:
        raise DomainError("FED-115")
    return Envelope(
        envelope.id,
        envelope.sender,
        envelope.recipient,
        envelope.type,
        envelope.created,
        envelope.expires,
        body,
    )


def _record(session: Session, delivery: Delivery, token: bytes) -> InboxEnvelope:
    envelope = delivery.envelope
    entry = InboxEnvelope(
        envelope_id=envelope.id,
        peer_id=delivery.peer.id,
        agreement_id=delivery.agreement.id,
        type=envelope.type,
        created=envelope.created,
        expires=envelope.expires,
        received_at=delivery.received_at,
        token=token.decode("ascii"),
    )
    try:
        # A savepoint: two deliveries of one envelope racing each other meet here.
        with session.begin_nested():
            session.add(entry)
    except IntegrityError as error:
        raise DomainError("FED-110") from error
    return entry


def peer_context(ctx: AuditContext, peer_node: str | None) -> AuditContext:
    """Return ``ctx`` with the (verified) sending peer as its actor."""
    return AuditContext(Actor("peer", peer_node=peer_node), ctx.request_id, ctx.client_address)


def record_acceptance(session: Session, ctx: AuditContext, accepted: Accepted) -> None:
    delivery = accepted.delivery
    audit.record(
        session,
        peer_context(ctx, delivery.peer.node_id),
        "federation.envelope_receive",
        object_type="envelope",
        object_id=delivery.envelope.id,
        detail={
            "type": delivery.envelope.type,
            "agreement": f"{delivery.agreement.reference}@{delivery.agreement.version}",
        },
    )


def rejection_entry(ctx: AuditContext, attempt: Attempt, error: DomainError) -> dict[str, Any]:
    """Return the audit entry of a rejected envelope: the code, and what was verified."""
    log.warning(
        "envelope rejected: %s (peer %s, envelope %s)",
        error.code,
        attempt.peer_node,
        attempt.envelope_id,
    )
    reason = message_for(error.code, translator("en"), error.params)
    detail: dict[str, Any] = {"code": error.code, "reason": reason}
    detail.update({k: v for k, v in (("type", attempt.type), ("kid", attempt.kid)) if v})
    return audit.draft(
        peer_context(ctx, attempt.peer_node),
        "federation.envelope_receive",
        object_type="envelope",
        object_id=attempt.envelope_id,
        outcome=Outcome.DENIED,
        detail=detail,
    )


def inbox_entries(session: Session) -> list[InboxEnvelope]:
    return list(session.scalars(select(InboxEnvelope).order_by(InboxEnvelope.id)).all())
