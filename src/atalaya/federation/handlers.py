"""Envelope types: for each, its data class (what agreements allow) and the handler
that makes an accepted envelope take effect.

Later work registers its types here (alerts, hit/no-hit, cases) with ``register``. A
handler runs in the transaction that records the envelope in the inbox, so its effect
happens exactly once, or not at all if it raises.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from atalaya.federation.envelopes import Envelope
from atalaya.federation.models import Agreement, Peer


@dataclass(frozen=True)
class Delivery:
    """An envelope that passed every check, with its sender and the agreement it came under."""

    envelope: Envelope
    peer: Peer
    agreement: Agreement
    received_at: dt.datetime


@dataclass(frozen=True)
class EnvelopeType:
    name: str
    data_class: str  # a code of data/data_classes.csv
    handle: Callable[[Session, Delivery], None]
    # Whether the body must come encrypted (personal data always should).
    confidential: bool = False


TYPES: dict[str, EnvelopeType] = {}


def register(envelope_type: EnvelopeType) -> None:
    TYPES[envelope_type.name] = envelope_type


def record_ping(session: Session, delivery: Delivery) -> None:
    """``node.ping``: note when the peer was last heard from."""
    delivery.peer.last_ping_at = delivery.envelope.created


register(EnvelopeType("node.ping", "node:ping", record_ping))
