"""Exchange between nodes: this node's identity and public keys, its peers and their
pinned keys, agreements, and the outbox and inbox of signed envelopes.

Private keys are never stored here: they live in files (``keys.py``).
"""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from atalaya.db import Base, UTCDateTime, utcnow


class KeyUse(StrEnum):
    SIGNING = "sig"
    ENCRYPTION = "enc"


class NodeIdentity(Base):
    """Who this node is to its peers (one row, written by ``atalaya node init``)."""

    __tablename__ = "federation_node"

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    url: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class NodeKey(Base):
    """A public key of this node, current (``retired_at`` empty) or rotated out.

    A rotated-out key is still published, and verifies, until ``valid_until``.
    """

    __tablename__ = "federation_node_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)  # RFC 7638 thumbprint
    use: Mapped[KeyUse] = mapped_column(String(3))
    public_jwk: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # For a signing key that replaced another: a JWS, by the key it replaced, naming it.
    rotation_proof: Mapped[str | None] = mapped_column(Text)

    @property
    def jwk(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.public_jwk)
        return value


class PeerStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Peer(Base):
    """Another node whose keys were pinned by fingerprint (``atalaya peers add``)."""

    __tablename__ = "federation_peers"

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    url: Mapped[str] = mapped_column(String(300))
    status: Mapped[PeerStatus] = mapped_column(String(16), default=PeerStatus.ACTIVE)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When its last ``node.ping`` arrived (the ping handler's one effect).
    last_ping_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    keys: Mapped[list[PeerKey]] = relationship(back_populates="peer", order_by="PeerKey.id")


class PeerKey(Base):
    """A public key pinned for a peer: current (``valid_until`` empty) or replaced and
    still accepted until ``valid_until``."""

    __tablename__ = "federation_peer_keys"
    __table_args__ = (UniqueConstraint("peer_id", "kid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peers.id"), index=True)
    kid: Mapped[str] = mapped_column(String(64), index=True)
    use: Mapped[KeyUse] = mapped_column(String(3))
    public_jwk: Mapped[str] = mapped_column(Text)
    pinned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    peer: Mapped[Peer] = relationship(back_populates="keys")

    @property
    def jwk(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.public_jwk)
        return value


class PeerGroup(Base):
    """A named set of peers an agreement can cover at once. Empty means nobody."""

    __tablename__ = "federation_peer_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PeerGroupMember(Base):
    __tablename__ = "federation_peer_group_members"
    __table_args__ = (UniqueConstraint("group_id", "peer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("federation_peer_groups.id"), index=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peers.id"), index=True)


class Agreement(Base):
    """One version of a written agreement: whom it covers (a peer or a group), which data
    classes may go each way, on which conditions, how many per day, until when.

    Versions of one agreement share a ``reference``; only the newest counts. Rows are
    never edited except to record that a version was superseded or revoked.
    """

    __tablename__ = "federation_agreements"
    __table_args__ = (
        UniqueConstraint("reference", "version"),
        CheckConstraint("(peer_id IS NULL) <> (group_id IS NULL)", name="names_peer_or_group"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    peer_id: Mapped[int | None] = mapped_column(ForeignKey("federation_peers.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("federation_peer_groups.id"), index=True
    )
    # JSON lists of data classes (data/data_classes.csv) and of handling conditions.
    send_classes: Mapped[str] = mapped_column(Text, default="[]")
    receive_classes: Mapped[str] = mapped_column(Text, default="[]")
    conditions: Mapped[str] = mapped_column(Text, default="[]")
    # Envelopes a day the peer may send us under this agreement (None: no quota).
    daily_limit: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    superseded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    def classes(self, direction: Direction) -> list[str]:
        value = self.send_classes if direction == Direction.SEND else self.receive_classes
        found: list[str] = json.loads(value)
        return found

    def in_force(self, now: dt.datetime) -> bool:
        """Return whether this version counts at ``now``: newest, not revoked, valid."""
        if self.superseded_at is not None or self.revoked_at is not None:
            return False
        return self.valid_from <= now and (self.valid_until is None or now < self.valid_until)


class Direction(StrEnum):
    SEND = "send"
    RECEIVE = "receive"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # refused for good by the peer, or expired before delivery


class OutboxEnvelope(Base):
    """A signed envelope waiting for delivery to a peer, written in the same transaction
    as the change that caused it (transactional outbox). A delivery worker picks rows
    by ``(status, next_attempt_at)``, posts ``token``, and records the outcome."""

    __tablename__ = "federation_outbox"
    __table_args__ = (
        Index(None, "status", "next_attempt_at"),
        # A peer's queue, in order: its pending rows by id (delivery.py).
        Index("ix_federation_outbox_queue", "peer_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    envelope_id: Mapped[str] = mapped_column(String(36), unique=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peers.id"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(Text)  # the compact JWS, exactly as sent
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[OutboxStatus] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class BreakerState(StrEnum):
    CLOSED = "closed"  # deliveries go ahead
    OPEN = "open"  # too many failures in a row: the peer's queue waits until open_until
    HALF_OPEN = "half_open"  # open_until has passed: one trial envelope decides


class PeerDelivery(Base):
    """How delivery to a peer is going, shared by every worker process: the circuit
    breaker, the last success and failure, and the lease a worker holds while it works
    through the peer's queue (one batch in flight per peer, so order is kept)."""

    __tablename__ = "federation_peer_delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peers.id"), unique=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # Set when the breaker opens; past it, the breaker is half-open.
    open_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))
    lease_holder: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    def breaker(self, now: dt.datetime) -> BreakerState:
        if self.open_until is None:
            return BreakerState.CLOSED
        return BreakerState.OPEN if now < self.open_until else BreakerState.HALF_OPEN


class InboxEnvelope(Base):
    """An envelope a peer sent us, accepted once: the unique ``envelope_id`` is what
    makes a replayed envelope fail, and a message take effect exactly once."""

    __tablename__ = "federation_inbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    envelope_id: Mapped[str] = mapped_column(String(36), unique=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peers.id"), index=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("federation_agreements.id"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    # The compact JWS as received: the peer's signed word, kept as evidence.
    token: Mapped[str] = mapped_column(Text)


# Hit/no-hit (docs/federation.md § Hit/no-hit). Blinded values are HMAC-SHA256, base64url,
# under the key this node shares with one peer: never an identifier in the clear.


class HitOutcome(StrEnum):
    HIT = "hit"
    NO_HIT = "no_hit"
    REFUSED = "refused"  # the peer answered with an error code
    ERROR = "error"  # the peer could not be reached, or its answer did not verify


class HitQuery(Base):
    """A hit/no-hit query this node's user put to one peer, and its answer.

    Holds who asked, why and of what kind, never the identifier asked about."""

    __tablename__ = "federation_hit_queries"

    id: Mapped[int] = mapped_column(primary_key=True)
    envelope_id: Mapped[str] = mapped_column(String(36), unique=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peers.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[HitOutcome] = mapped_column(String(10))
    code: Mapped[str | None] = mapped_column(String(16))  # the peer's refusal, or ours
    # JSON list of the opaque references the peer answered with a hit.
    references: Mapped[str] = mapped_column(Text, default="[]")
    asked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The ``hit.followup`` envelope queued for the peer, once a user asked for one.
    followup_envelope_id: Mapped[str | None] = mapped_column(String(36))
    followup_by: Mapped[str | None] = mapped_column(String(64))
    followup_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class HitIndexEntry(Base):
    """One identifier of this node's records, blinded under the key shared with the peer
    of ``agreement``: what that peer's queries are looked up in."""

    __tablename__ = "federation_hit_index"
    __table_args__ = (
        Index("ix_federation_hit_index_lookup", "agreement_id", "peer_id", "kind", "blinded"),
        Index("ix_federation_hit_index_incidents", "agreement_id", "peer_id", "incident_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("federation_agreements.id"))
    # An agreement with a group has one index per peer of it, each under its own key.
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peers.id"))
    kind: Mapped[str] = mapped_column(String(10))
    blinded: Mapped[str] = mapped_column(String(64))
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )


class HitIndexState(Base):
    """How far the index of an agreement and peer has read the incidents' versions, and under
    which key it was built (another key empties it: see ``hit_index.refresh``)."""

    __tablename__ = "federation_hit_index_state"
    __table_args__ = (UniqueConstraint("agreement_id", "peer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("federation_agreements.id"))
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peers.id"))
    key_id: Mapped[str] = mapped_column(String(200), default="")
    # Every incident version up to this id is in the index.
    through_version: Mapped[int] = mapped_column(Integer, default=0)
    refreshed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class HitQueryReceived(Base):
    """A peer's hit/no-hit query and what this node answered: the blinded value and the
    purpose, never the identifier (this node never sees it). The unique envelope id
    refuses a replay; the rows of a day count against the agreement's quota.

    ``matches`` is the only place where a reference answered can be resolved: each was
    made for this query alone (``hit_index.reference_for``), so for its peer alone, and
    is resolved for ``hits.REFERENCE_LIFETIME`` after ``received_at``."""

    __tablename__ = "federation_hit_queries_received"
    __table_args__ = (Index("ix_federation_hit_queries_received_peer", "peer_id", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    envelope_id: Mapped[str] = mapped_column(String(36), unique=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peers.id"))
    agreement_id: Mapped[int] = mapped_column(ForeignKey("federation_agreements.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    blinded: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[HitOutcome] = mapped_column(String(10))
    # JSON object: reference answered -> this node's incident id.
    matches: Mapped[str] = mapped_column(Text, default="{}")
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    def incident_for(self, reference: str) -> int | None:
        """Return the id of the incident ``reference`` was answered for in this query,
        or ``None``: a reference means nothing outside the query it was given in."""
        matches: dict[str, int] = json.loads(self.matches)
        return matches.get(reference)


class HitWatch(Base):
    """The owner of a record asked to be told when a peer's query hits it."""

    __tablename__ = "federation_hit_watches"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), unique=True
    )
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class HitNotification(Base):
    """What the owning agency of a record is told: a peer's query hit a watched record
    (``event`` hit), or a peer asked to follow a hit up (``followup``)."""

    __tablename__ = "federation_hit_notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peers.id"))
    event: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(64))
    # The query envelope (``hit``) or the follow-up envelope (``followup``).
    envelope_id: Mapped[str] = mapped_column(String(36))
    # Follow-ups: the peer's agency and user asking, to be contacted through the peer.
    requested_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
