"""Alerts between nodes: what an owner sends when it issues, changes or cancels an alert,
and what a node does with the alerts its peers send.

Each alert type travels as its own envelope types, so that an agreement's data class
(``alert:wanted``...) decides, from the envelope's type alone, whether it may go:

- ``alert.<type>.publish``: the whole current version (issued or changed);
- ``alert.<type>.cancel``: the owner cancelled it;
- ``alert.deportation.acknowledge``: the country of nationality acknowledges a
  deportation notice, back to its owner.

Bodies carry personal data: they are always encrypted to the recipient. An alert is
sent, in the same transaction as the change, to every active peer whose agreement in
force lets its class go there (``share``); a peer without one receives nothing. On the
receiving side only the owner's word changes a copy, versions only move forward (a late
or repeated envelope changes nothing), and a cancellation stands whatever comes after.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.alerts import service
from atalaya.alerts.models import Alert, AlertStatus, AlertType
from atalaya.alerts.schema import AlertIn
from atalaya.audit import service as audit
from atalaya.audit.service import Actor, AuditContext
from atalaya.db import utcnow
from atalaya.errors import DomainError
from atalaya.federation import outbox
from atalaya.federation.agreements import agreement_allowing
from atalaya.federation.handlers import Delivery, EnvelopeType, register
from atalaya.federation.models import Direction, NodeIdentity, Peer, PeerStatus
from atalaya.federation.node import load_keys
from atalaya.settings import Settings

PUBLISH, CANCEL, ACKNOWLEDGE = "publish", "cancel", "acknowledge"


def envelope_type(kind: AlertType, event: str) -> str:
    return f"alert.{kind.value}.{event}"


def body_of(alert: Alert) -> dict[str, Any]:
    """What a peer receives of ``alert``: everything it says, nothing about who here
    issued it beyond the agency's code."""
    return {
        "uid": alert.uid,
        "type": str(alert.type),
        "owner_node": alert.owner_node,
        "agency": alert.agency_code,
        "version": alert.version,
        "status": str(alert.status),
        "summary": alert.summary,
        "review_date": alert.review_date.isoformat(),
        "subject": alert.subject,
        "cancel_reason": alert.cancel_reason,
    }


def share(session: Session, settings: Settings, alert: Alert, event: str) -> list[str]:
    """Queue ``event`` (publish or cancel) of an alert this node owns for every peer an
    agreement in force allows it to reach; return those peers' ids."""
    if alert.received:
        return []
    kind = AlertType(alert.type)
    now = utcnow()
    peers = [
        peer
        for peer in session.scalars(select(Peer).where(Peer.status == PeerStatus.ACTIVE))
        if agreement_allowing(session, peer, Direction.SEND, kind.data_class, now) is not None
    ]
    if not peers:
        return []
    node_keys = load_keys(session, settings)
    body = body_of(alert)
    for peer in peers:
        outbox.enqueue(
            session, alert.owner_node, node_keys, peer, envelope_type(kind, event), body,
            confidential=True, now=now,
        )  # fmt: skip
    return [peer.node_id for peer in peers]


def acknowledge_to_owner(session: Session, settings: Settings, alert: Alert) -> bool:
    """Queue this node's acknowledgement of a received deportation notice for its owner;
    return whether an agreement lets it go."""
    peer = session.scalar(select(Peer).where(Peer.node_id == alert.received_from))
    kind = AlertType.DEPORTATION
    if peer is None or peer.status != PeerStatus.ACTIVE:
        return False
    if agreement_allowing(session, peer, Direction.SEND, kind.data_class, utcnow()) is None:
        return False
    sender = session.scalar(select(NodeIdentity.node_id))
    assert sender is not None  # a peer exists, so this node has an identity
    body = {
        "uid": alert.uid,
        "acknowledged_by": alert.acknowledged_by,
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
    }
    outbox.enqueue(
        session, sender, load_keys(session, settings), peer,
        envelope_type(kind, ACKNOWLEDGE), body, confidential=True,
    )  # fmt: skip
    return True


def receive_publish(session: Session, delivery: Delivery) -> None:
    """Hold the owner's current version of an alert (a newer one only)."""
    body, sender = delivery.envelope.body, delivery.peer.node_id
    data = _content(body)
    kind = AlertType(data.type)
    if body.get("owner_node") != sender:
        raise DomainError("ALR-108", params={"owner": str(body.get("owner_node"))})
    alert = session.scalar(select(Alert).where(Alert.uid == body["uid"]))
    if alert is None:
        alert = Alert(
            uid=str(body["uid"]), type=kind, status=AlertStatus.ACTIVE, owner_node=sender,
            received_from=sender, agency_code=str(body.get("agency", ""))[:32], version=0,
        )  # fmt: skip
        session.add(alert)
    elif alert.owner_node != sender or alert.type != kind:
        raise DomainError("ALR-108", params={"owner": alert.owner_node})
    version = int(body["version"])
    if version <= alert.version or alert.status == AlertStatus.CANCELLED:
        return
    service.fill(alert, data)
    alert.version, alert.updated_at = version, utcnow()
    if body.get("status") == AlertStatus.CANCELLED:
        _cancelled(alert, str(body.get("cancel_reason", "")))
    session.flush()
    _audit(session, delivery, "alert.receive", alert)


def receive_cancel(session: Session, delivery: Delivery) -> None:
    """Cancel the copy of an alert, on its owner's word."""
    body, sender = delivery.envelope.body, delivery.peer.node_id
    alert = session.scalar(select(Alert).where(Alert.uid == str(body.get("uid"))))
    if alert is None:
        # Cancelled before it ever reached us: keep it, cancelled, so that a late
        # publish of an older version cannot bring it back.
        receive_publish(session, delivery)
        return
    if alert.owner_node != sender:
        raise DomainError("ALR-108", params={"owner": alert.owner_node})
    if alert.status == AlertStatus.CANCELLED:
        return
    _cancelled(alert, str(body.get("cancel_reason", "")))
    alert.version = max(alert.version, int(body.get("version", alert.version)))
    session.flush()
    _audit(session, delivery, "alert.receive_cancel", alert)


def receive_acknowledgement(session: Session, delivery: Delivery) -> None:
    """Note that the country of nationality acknowledged our deportation notice."""
    body = delivery.envelope.body
    alert = session.scalar(select(Alert).where(Alert.uid == str(body.get("uid"))))
    if alert is None or alert.received or alert.type != AlertType.DEPORTATION:
        raise DomainError("API-106")
    if alert.acknowledged_at is None:
        alert.acknowledged_at = delivery.envelope.created
        who = str(body.get("acknowledged_by", ""))[:60]
        alert.acknowledged_by = f"{delivery.peer.node_id}/{who}"
        session.flush()
        _audit(session, delivery, "alert.acknowledged", alert)


def _content(body: dict[str, Any]) -> AlertIn:
    """The alert's content as issued, checked like one issued here (its review date
    aside: a copy keeps the owner's)."""
    try:
        return AlertIn.model_validate(
            {
                "type": body.get("type"),
                "summary": body.get("summary"),
                "review_date": body.get("review_date"),
                **(body.get("subject") or {}),
            }
        )
    except (ValidationError, TypeError) as error:
        raise DomainError("ALR-115", params={"problem": str(error)[:200]}) from error


def _cancelled(alert: Alert, reason: str) -> None:
    alert.status = AlertStatus.CANCELLED
    alert.cancelled_at = alert.updated_at = utcnow()
    alert.cancel_reason = reason[:500]


def _audit(session: Session, delivery: Delivery, action: str, alert: Alert) -> None:
    ctx = AuditContext(Actor("peer", peer_node=delivery.peer.node_id), None, None)
    audit.record(
        session,
        ctx,
        action,
        object_type="alert",
        object_id=alert.uid,
        detail={"type": str(alert.type), "version": alert.version,
                "envelope": delivery.envelope.id},
    )  # fmt: skip


for _kind in AlertType:
    register(EnvelopeType(envelope_type(_kind, PUBLISH), _kind.data_class, receive_publish, True))
    register(EnvelopeType(envelope_type(_kind, CANCEL), _kind.data_class, receive_cancel, True))
register(
    EnvelopeType(
        envelope_type(AlertType.DEPORTATION, ACKNOWLEDGE),
        AlertType.DEPORTATION.data_class,
        receive_acknowledgement,
        True,
    )
)
