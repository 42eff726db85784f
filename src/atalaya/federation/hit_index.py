"""Answering peers' hit/no-hit queries: the blinded index of this node's records, the
answer, the owners' watches and notifications, and follow-ups received.

For each agreement that lets a peer ask (``receive`` of a ``hit:*`` class), the index
holds the identifiers of this node's records blinded under the key shared with that
peer: stolen, lost or fraudulent vehicles (VIN, plate), firearms (serial) and documents
(number), and the suspects, arrested and missing persons with a full date of birth.
Restricted incidents are left out. The index follows the incidents' versions: each
query first reads the versions recorded since the last one (``refresh``), and
``atalaya hits reindex`` rebuilds it whole. Nothing here ever holds what a peer asked
in the clear: a query brings a blinded value, which is what is logged.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atalaya.accounts.authz import Principal, authorize
from atalaya.accounts.credentials import Credentials
from atalaya.audit import service as audit
from atalaya.audit.service import AuditContext
from atalaya.errors import DomainError
from atalaya.federation import inbox
from atalaya.federation.agreements import agreement_allowing, agreements
from atalaya.federation.envelopes import Envelope, new_envelope_id, seal
from atalaya.federation.handlers import Delivery, EnvelopeType, register
from atalaya.federation.hits import (
    ANSWER_LIFETIME,
    ANSWER_TYPE,
    FOLLOWUP_CLASS,
    FOLLOWUP_TYPE,
    KINDS,
    MAX_REFERENCES,
    QUERY_TYPES,
    REFERENCE_LIFETIME,
    SharedKey,
    blind,
    checked_purpose,
    person_form,
    shared_key,
)
from atalaya.federation.keys import NodeKeys
from atalaya.federation.models import (
    Agreement,
    Direction,
    HitIndexEntry,
    HitIndexState,
    HitNotification,
    HitOutcome,
    HitQueryReceived,
    HitWatch,
    KeyUse,
    Peer,
    PeerGroupMember,
    PeerStatus,
)
from atalaya.federation.peers import current_key
from atalaya.records.models import Incident, IncidentVersion
from atalaya.records.service import incident_scope
from atalaya.settings import Settings

# What a peer may learn exists here (records/data/vocabularies.toml: item_status,
# person_role): things sought, and persons sought or missing; never victims or witnesses.
INDEXED_STATUSES = frozenset({"stolen", "lost", "fraudulent"})
INDEXED_ROLES = frozenset({"suspect", "arrested", "missing"})
# Versions younger than this may belong to transactions still open when the index was
# read, whose ids come before ones already committed: they are read again next time.
SETTLE = dt.timedelta(minutes=1)
CHUNK = 500


def kinds_allowed(agreement: Agreement) -> list[str]:
    """Return the kinds ``agreement`` lets its peer ask about."""
    allowed = agreement.classes(Direction.RECEIVE)
    return [code for code, kind in KINDS.items() if kind.data_class in allowed]


def identifiers(incident: Incident, kinds: list[str]) -> Iterator[tuple[str, str]]:
    """Yield the (kind, normalised form) of ``incident`` a peer may find, of ``kinds``."""
    if incident.restricted:
        return
    for vehicle in incident.vehicles:
        if vehicle.status in INDEXED_STATUSES:
            yield from _present(kinds, ("vin", vehicle.vin_normalised))
            yield from _present(kinds, ("plate", vehicle.plate_normalised))
    for firearm in incident.firearms:
        if firearm.status in INDEXED_STATUSES:
            yield from _present(kinds, ("firearm", firearm.serial_normalised))
    for document in incident.documents:
        if document.status in INDEXED_STATUSES:
            yield from _present(kinds, ("document", document.number_normalised))
    for person in incident.persons:
        if person.role in INDEXED_ROLES and person.date_of_birth:
            form = person_form(person.given_names, person.surnames, person.date_of_birth)
            yield from _present(kinds, ("person", form))


def _present(kinds: list[str], pair: tuple[str, str | None]) -> Iterator[tuple[str, str]]:
    kind, value = pair
    if value and kind in kinds:
        yield kind, value


def reference_for(credentials: Credentials, query_id: str, kind: str, incident_id: int) -> str:
    """Return the opaque reference a peer is given for a hit on ``incident_id`` in its
    query ``query_id``: an HMAC under this node's secret, meaningless anywhere else. The
    query id is unique (a replay is refused) and a query asks of one kind, so no two
    answers share a reference: the plate, the VIN and the driver of one incident, or one
    plate asked twice, cannot be linked by their references."""
    return credentials.sign("hit-reference", f"{query_id}:{kind}:{incident_id}")[:32]


@dataclass(frozen=True)
class Scope:
    """One index: an agreement, the peer asking under it, and the key they share."""

    agreement: Agreement
    peer: Peer
    key: SharedKey

    def entries(self) -> Any:
        return (HitIndexEntry.agreement_id == self.agreement.id) & (
            HitIndexEntry.peer_id == self.peer.id
        )


def refresh(session: Session, scope: Scope, now: dt.datetime) -> int:
    """Bring the index of ``scope`` up to date with the incidents' versions; return how
    many incidents were (re)read. Under another key than before, start afresh."""
    state = _locked_state(session, scope)
    if state.key_id != scope.key.key_id:
        session.execute(delete(HitIndexEntry).where(scope.entries()))
        state.key_id, state.through_version = scope.key.key_id, 0
    settled = session.scalar(
        select(func.max(IncidentVersion.id)).where(IncidentVersion.changed_at <= now - SETTLE)
    )
    if state.through_version == 0:
        changed = select(Incident.id)
    else:
        changed = (
            select(IncidentVersion.incident_id)
            .where(IncidentVersion.id > state.through_version)
            .distinct()
        )
    incident_ids = list(session.scalars(changed).all())
    for start in range(0, len(incident_ids), CHUNK):
        _reindex(session, scope, incident_ids[start : start + CHUNK])
    state.through_version = max(state.through_version, settled or 0)
    state.refreshed_at = now
    session.flush()
    return len(incident_ids)


def _locked_state(session: Session, scope: Scope) -> HitIndexState:
    """Return the state of ``scope``'s index, locked until the transaction ends (one
    refresh at a time), created on first use."""
    query = (
        select(HitIndexState)
        .where(
            HitIndexState.agreement_id == scope.agreement.id,
            HitIndexState.peer_id == scope.peer.id,
        )
        .with_for_update()
    )
    state = session.scalar(query)
    if state is None:
        try:
            with session.begin_nested():
                session.add(HitIndexState(agreement_id=scope.agreement.id, peer_id=scope.peer.id))
        except IntegrityError:
            pass  # another refresh created it meanwhile: it is read, locked, below
        state = session.scalars(query.execution_options(populate_existing=True)).one()
    return state


def _reindex(session: Session, scope: Scope, incident_ids: list[int]) -> None:
    session.execute(
        delete(HitIndexEntry).where(scope.entries(), HitIndexEntry.incident_id.in_(incident_ids))
    )
    kinds = kinds_allowed(scope.agreement)
    incidents = session.scalars(select(Incident).where(Incident.id.in_(incident_ids))).all()
    rows = [
        {
            "agreement_id": scope.agreement.id,
            "peer_id": scope.peer.id,
            "kind": kind,
            "blinded": blinded,
            "incident_id": incident.id,
        }
        for incident in incidents
        for kind, blinded in {
            (kind, blind(scope.key, kind, normal)) for kind, normal in identifiers(incident, kinds)
        }
    ]
    if rows:
        session.execute(insert(HitIndexEntry), rows)


def scope_for(node_id: str, node_keys: NodeKeys, agreement: Agreement, peer: Peer) -> Scope:
    """Return the index of ``agreement`` for ``peer``, under the key they share now."""
    key = shared_key(
        node_id, node_keys.encryption, peer.node_id, current_key(peer, KeyUse.ENCRYPTION).jwk
    )
    return Scope(agreement, peer, key)


def reindex(
    session: Session, node_id: str, node_keys: NodeKeys, now: dt.datetime
) -> dict[str, int]:
    """Rebuild the index of every agreement in force that lets peers ask, for each of
    its active peers, and drop every other index; return the entries per peer."""
    session.execute(delete(HitIndexState))
    session.execute(delete(HitIndexEntry))
    built: dict[str, int] = {}
    for agreement in agreements(session):
        if not (agreement.in_force(now) and kinds_allowed(agreement)):
            continue
        for peer in _peers_of(session, agreement):
            scope = scope_for(node_id, node_keys, agreement, peer)
            refresh(session, scope, now)
            count = select(func.count(HitIndexEntry.id)).where(scope.entries())
            built[f"{agreement.reference} {peer.node_id}"] = session.scalar(count) or 0
    return built


def _peers_of(session: Session, agreement: Agreement) -> list[Peer]:
    """Return the active peers ``agreement`` covers: its peer, or its group's members."""
    if agreement.peer_id is not None:
        query = select(Peer).where(Peer.id == agreement.peer_id)
    else:
        members = select(PeerGroupMember.peer_id).where(
            PeerGroupMember.group_id == agreement.group_id
        )
        query = select(Peer).where(Peer.id.in_(members))
    return list(session.scalars(query.where(Peer.status == PeerStatus.ACTIVE)).all())


class QueryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=10)
    blinded: str = Field(pattern=r"^[A-Za-z0-9_-]{43}$")
    purpose: str = Field(max_length=32)
    keys: str = Field(max_length=200)


@dataclass(frozen=True)
class Answered:
    token: str  # the signed answer, a compact JWS
    received: HitQueryReceived


def answer(
    session: Session,
    settings: Settings,
    credentials: Credentials,
    ctx: AuditContext,
    node_id: str,
    node_keys: NodeKeys,
    token: bytes,
    attempt: inbox.Attempt,
    now: dt.datetime,
) -> Answered:
    """Check ``token`` as a peer's query exactly as the inbox checks an envelope, look
    it up, record and audit it; return the signed answer. Raises the ``FED-1xx`` of the
    first check that fails; nothing is stored then."""
    delivery, body = _verified_query(session, settings, node_id, node_keys, token, attempt, now)
    peer, agreement, envelope = delivery.peer, delivery.agreement, delivery.envelope
    scope = scope_for(node_id, node_keys, agreement, peer)
    if body.keys != scope.key.key_id:
        raise DomainError("FED-154", params={"peer": peer.node_id})
    refresh(session, scope, now)
    found = session.scalars(
        select(HitIndexEntry.incident_id)
        .where(
            scope.entries(),
            HitIndexEntry.kind == body.kind,
            HitIndexEntry.blinded == body.blinded,
        )
        .distinct()
        .order_by(HitIndexEntry.incident_id.desc())
        .limit(MAX_REFERENCES)
    ).all()
    matches = {reference_for(credentials, envelope.id, body.kind, i): i for i in found}
    received = _record(session, delivery, body, matches)
    _notify_watchers(session, received, body)
    audit.record(
        session,
        inbox.peer_context(ctx, peer.node_id),
        "federation.hit_query",
        object_type="hit_query",
        object_id=envelope.id,
        detail={
            "kind": body.kind,
            "purpose": body.purpose,
            "outcome": str(received.outcome),
            "hits": len(matches),
            "agreement": f"{agreement.reference}@{agreement.version}",
        },
    )
    reply = Envelope(
        new_envelope_id(int(now.timestamp() * 1000)),
        node_id,
        peer.node_id,
        ANSWER_TYPE,
        now,
        now + ANSWER_LIFETIME,
        {"query": envelope.id, "outcome": str(received.outcome), "references": list(matches)},
    )
    return Answered(seal(reply, node_keys.signing), received)


def _verified_query(
    session: Session,
    settings: Settings,
    node_id: str,
    node_keys: NodeKeys,
    token: bytes,
    attempt: inbox.Attempt,
    now: dt.datetime,
) -> tuple[Delivery, QueryBody]:
    """Run the inbox's checks, in its order, on a query; return it with its body."""
    limit = settings.federation_max_envelope_bytes
    if len(token) > limit:
        raise DomainError("FED-113", params={"max": limit})
    key, peer = inbox._signing_key(session, token, attempt, limit, now)
    claims = inbox._claims(token, key, limit)
    if claims.sender != peer.node_id:
        raise DomainError("FED-105")
    attempt.peer_node, attempt.envelope_id, attempt.type = peer.node_id, str(claims.id), claims.type
    envelope = inbox._envelope(claims, node_id, settings, now)
    exists = select(HitQueryReceived.id).where(HitQueryReceived.envelope_id == envelope.id)
    if session.scalar(exists):
        raise DomainError("FED-110")
    data_class = QUERY_TYPES.get(envelope.type)
    if data_class is None:
        raise DomainError("FED-111", params={"type": envelope.type})
    if claims.body_jwe is None:
        raise DomainError("FED-116", params={"type": envelope.type})
    agreement = agreement_allowing(session, peer, Direction.RECEIVE, data_class, now)
    if agreement is None:
        raise DomainError("FED-112", params={"data_class": data_class})
    _check_quota(session, settings, peer, agreement, now)
    opened = inbox._opened(envelope, claims.body_jwe, node_keys, limit)
    try:
        body = QueryBody.model_validate(opened.body)
    except ValidationError as error:
        raise DomainError("FED-106", params={"problem": "body"}) from error
    kind = KINDS.get(body.kind)
    if kind is None or kind.envelope_type != envelope.type:
        raise DomainError("FED-106", params={"problem": "kind"})
    checked_purpose(body.purpose)
    return Delivery(opened, peer, agreement, now), body


def _check_quota(
    session: Session, settings: Settings, peer: Peer, agreement: Agreement, now: dt.datetime
) -> None:
    """Raise ``FED-114`` once the peer's queries and envelopes of the last day under this
    agreement (any version) reach its daily limit; under an agreement that sets none,
    ``FED-162`` once its queries reach ``federation_hit_daily_limit``. Either says when
    the oldest one counted leaves the day (``retry_after``, in seconds)."""
    if agreement.daily_limit is not None:
        inbox.refuse_past_quota(session, peer, agreement, now, "FED-114", agreement.daily_limit)
        return
    limit = settings.federation_hit_daily_limit
    inbox.refuse_past_quota(session, peer, agreement, now, "FED-162", limit, (HitQueryReceived,))


def _record(
    session: Session, delivery: Delivery, body: QueryBody, matches: dict[str, int]
) -> HitQueryReceived:
    received = HitQueryReceived(
        envelope_id=delivery.envelope.id,
        peer_id=delivery.peer.id,
        agreement_id=delivery.agreement.id,
        kind=body.kind,
        blinded=body.blinded,
        purpose=body.purpose,
        outcome=HitOutcome.HIT if matches else HitOutcome.NO_HIT,
        matches=json.dumps(matches),
        received_at=delivery.received_at,
    )
    try:
        # A savepoint: two deliveries of one query racing each other meet here.
        with session.begin_nested():
            session.add(received)
    except IntegrityError as error:
        raise DomainError("FED-110") from error
    return received


def _notify_watchers(session: Session, received: HitQueryReceived, body: QueryBody) -> None:
    matches: dict[str, int] = json.loads(received.matches)
    if not matches:
        return
    watches = session.scalars(
        select(HitWatch).where(HitWatch.incident_id.in_(list(matches.values())))
    ).all()
    watched = {w.incident_id: w for w in watches}
    for reference, incident_id in matches.items():
        if incident_id in watched:
            session.add(
                HitNotification(
                    agency_id=watched[incident_id].agency_id,
                    incident_id=incident_id,
                    peer_id=received.peer_id,
                    event="hit",
                    kind=body.kind,
                    purpose=body.purpose,
                    reference=reference,
                    envelope_id=received.envelope_id,
                )
            )
    session.flush()


def watch(
    session: Session, ctx: AuditContext, principal: Principal, incident: Incident
) -> HitWatch:
    """Ask for the incident's agency to be told when a peer's query hits it; return the
    watch (the one already there, if any). The incident's own agency only."""
    authorize(principal, "hit.watch", incident_scope(incident))
    if incident.agency_id != principal.agency_id:
        raise DomainError("AUTH-112", params={"action": "hit.watch"})
    existing = session.scalar(select(HitWatch).where(HitWatch.incident_id == incident.id))
    if existing is not None:
        return existing
    found = HitWatch(
        incident_id=incident.id, agency_id=incident.agency_id, created_by=principal.username
    )
    session.add(found)
    session.flush()
    audit.record(session, ctx, "hits.watch", object_type="incident", object_id=incident.id)
    return found


def notifications_for(principal: Principal) -> Select[HitNotification]:
    """Return a select of the notifications of the principal's agency."""
    authorize(principal, "hit.watch")
    return select(HitNotification).where(HitNotification.agency_id == principal.agency_id)


class FollowupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(max_length=36)
    reference: str = Field(max_length=64)
    purpose: str = Field(max_length=32)
    requested_by: str = Field(max_length=200)


def record_followup(session: Session, delivery: Delivery) -> None:
    """``hit.followup``: a peer asks to follow up a hit this node answered it; the
    owning agency of the record is notified. ``FED-155`` unless the reference was given
    to this peer in the query named, ``FED-161`` once it has expired."""
    try:
        body = FollowupBody.model_validate(delivery.envelope.body)
    except ValidationError as error:
        raise DomainError("FED-106", params={"problem": "body"}) from error
    received = session.scalar(
        select(HitQueryReceived).where(HitQueryReceived.envelope_id == body.query)
    )
    if received is None or received.peer_id != delivery.peer.id:
        raise DomainError("FED-155")
    incident = session.get(Incident, received.incident_for(body.reference) or 0)
    if incident is None:
        raise DomainError("FED-155")
    if delivery.received_at >= received.received_at + REFERENCE_LIFETIME:
        raise DomainError("FED-161")
    session.add(
        HitNotification(
            agency_id=incident.agency_id,
            incident_id=incident.id,
            peer_id=delivery.peer.id,
            event="followup",
            kind=received.kind,
            purpose=received.purpose,
            reference=body.reference,
            envelope_id=delivery.envelope.id,
            requested_by=body.requested_by,
        )
    )
    session.flush()


register(EnvelopeType(FOLLOWUP_TYPE, FOLLOWUP_CLASS, record_followup, confidential=True))
