"""Sending: an envelope is sealed and written to the outbox in the transaction of the
change that caused it; a delivery worker (later work) posts it to the peer's inbox.

Nothing leaves without an agreement in force that allows its data class to the peer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from atalaya.db import utcnow
from atalaya.errors import DomainError
from atalaya.federation.agreements import agreement_allowing
from atalaya.federation.envelopes import Envelope, new_envelope_id, seal
from atalaya.federation.handlers import TYPES
from atalaya.federation.keys import NodeKeys
from atalaya.federation.models import Direction, KeyUse, OutboxEnvelope, Peer
from atalaya.federation.peers import current_key

DEFAULT_LIFETIME = dt.timedelta(days=2)


def enqueue(
    session: Session,
    sender: str,
    node_keys: NodeKeys,
    peer: Peer,
    type: str,
    body: dict[str, Any],
    *,
    confidential: bool = False,
    lifetime: dt.timedelta = DEFAULT_LIFETIME,
    now: dt.datetime | None = None,
) -> OutboxEnvelope:
    """Seal an envelope of ``type`` for ``peer`` and queue it; return the outbox row.

    Raises ``FED-111`` for an unknown type and ``FED-112`` when no agreement in force
    lets its data class go to ``peer``.
    """
    now = now or utcnow()
    envelope_type = TYPES.get(type)
    if envelope_type is None:
        raise DomainError("FED-111", params={"type": type})
    if agreement_allowing(session, peer, Direction.SEND, envelope_type.data_class, now) is None:
        raise DomainError("FED-112", params={"data_class": envelope_type.data_class})
    envelope = Envelope(
        new_envelope_id(int(now.timestamp() * 1000)),
        sender,
        peer.node_id,
        type,
        now,
        now + lifetime,
        body,
    )
    recipient_key = None
    if confidential or envelope_type.confidential:
        recipient_key = current_key(peer, KeyUse.ENCRYPTION).jwk
    row = OutboxEnvelope(
        envelope_id=envelope.id,
        peer_id=peer.id,
        type=type,
        token=seal(envelope, node_keys.signing, recipient_key),
        created_at=now,
        expires_at=envelope.expires,
        next_attempt_at=now,
    )
    session.add(row)
    session.flush()
    return row
