"""Agreements: which data classes may go to, and come from, a peer or a group of peers.

Deny by default: an envelope passes only under an agreement in force (newest version,
not revoked, within its validity) that names its peer, directly or through a group,
and lists its data class for that direction. An expired, revoked, empty or unknown
agreement, or one naming an empty group, allows nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from atalaya.audit import service as audit
from atalaya.audit.service import AuditContext
from atalaya.datafiles import read_commented_csv
from atalaya.db import as_utc, utcnow
from atalaya.errors import DomainError
from atalaya.federation.envelopes import timestamp
from atalaya.federation.models import Agreement, Direction, Peer, PeerGroup, PeerGroupMember


@cache
def data_classes() -> tuple[str, ...]:
    """Return the codes of ``data/data_classes.csv``."""
    text = resources.files("atalaya.federation").joinpath("data/data_classes.csv").read_text()
    return tuple(row["code"] for _, row in read_commented_csv(text).rows)


def checked_classes(values: list[str], field_name: str) -> list[str]:
    """Return ``values`` without repeats; ``FED-125`` for one not in the vocabulary."""
    known = data_classes()
    for value in values:
        if value not in known:
            raise DomainError(
                "FED-125", field=field_name, params={"value": value, "choices": ", ".join(known)}
            )
    return list(dict.fromkeys(values))


@dataclass(frozen=True)
class Terms:
    """What a version of an agreement says."""

    send: list[str] = field(default_factory=list)
    receive: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    daily_limit: int | None = None
    valid_from: dt.datetime | None = None  # None: now
    valid_until: dt.datetime | None = None  # None: until revoked


def add_agreement(
    session: Session,
    ctx: AuditContext,
    terms: Terms,
    *,
    peer: Peer | None = None,
    group: PeerGroup | None = None,
    now: dt.datetime | None = None,
) -> Agreement:
    """Record a new agreement (version 1) with ``peer`` or ``group``; return it."""
    if (peer is None) == (group is None):
        raise DomainError("FED-126")
    count = session.scalar(select(func.count(func.distinct(Agreement.reference)))) or 0
    target = peer.node_id if peer else group.code  # type: ignore[union-attr]
    reference = f"{target}-{count + 1}"
    return _store(session, ctx, reference, 1, terms, peer, group, now or utcnow())


@dataclass(frozen=True)
class Amendment:
    """What a new version of an agreement changes: a field left ``None`` keeps what the
    current version says (an empty list empties it)."""

    send: list[str] | None = None
    receive: list[str] | None = None
    conditions: list[str] | None = None
    daily_limit: int | None = None
    valid_until: dt.datetime | None = None
    no_daily_limit: bool = False  # drop the agreement's own quota (the default applies)
    no_end: bool = False  # valid until revoked

    def applied_to(self, current: Agreement, now: dt.datetime) -> Terms:
        """Return the terms of ``current`` with this amendment's changes."""

        def kept(given: list[str] | None, stored: str) -> list[str]:
            return list(json.loads(stored)) if given is None else given

        daily_limit = self.daily_limit if self.daily_limit is not None else current.daily_limit
        valid_until = self.valid_until or current.valid_until
        return Terms(
            send=kept(self.send, current.send_classes),
            receive=kept(self.receive, current.receive_classes),
            conditions=kept(self.conditions, current.conditions),
            daily_limit=None if self.no_daily_limit else daily_limit,
            # A version counts from when it is recorded, or from a start still to come.
            valid_from=current.valid_from if current.valid_from > now else None,
            valid_until=None if self.no_end else valid_until,
        )


def amend_agreement(
    session: Session,
    ctx: AuditContext,
    reference: str,
    amendment: Amendment,
    now: dt.datetime | None = None,
) -> Agreement:
    """Record the next version of agreement ``reference``: the current one's terms with
    ``amendment``'s changes. It supersedes the current one, which stops counting at
    once; return the new version."""
    now = now or utcnow()
    current = latest_version(session, reference)
    terms = amendment.applied_to(current, now)
    current.superseded_at = now
    session.flush()
    peer = session.get(Peer, current.peer_id) if current.peer_id else None
    group = session.get(PeerGroup, current.group_id) if current.group_id else None
    return _store(session, ctx, reference, current.version + 1, terms, peer, group, now)


def _store(
    session: Session,
    ctx: AuditContext,
    reference: str,
    version: int,
    terms: Terms,
    peer: Peer | None,
    group: PeerGroup | None,
    now: dt.datetime,
) -> Agreement:
    valid_from = as_utc(terms.valid_from) or now
    valid_until = as_utc(terms.valid_until)
    if valid_until is not None and (valid_until <= valid_from or valid_until <= now):
        raise DomainError("FED-128", field="until")
    if terms.daily_limit is not None and terms.daily_limit < 0:
        raise DomainError("API-104", field="daily_limit")
    agreement = Agreement(
        reference=reference,
        version=version,
        peer_id=peer.id if peer else None,
        group_id=group.id if group else None,
        send_classes=json.dumps(checked_classes(terms.send, "send")),
        receive_classes=json.dumps(checked_classes(terms.receive, "receive")),
        conditions=json.dumps(terms.conditions),
        daily_limit=terms.daily_limit,
        valid_from=valid_from,
        valid_until=valid_until,
        created_by=ctx.actor.username or ctx.actor.type,
    )
    session.add(agreement)
    session.flush()
    audit.record(
        session,
        ctx,
        "federation.agreement_add" if version == 1 else "federation.agreement_amend",
        object_type="agreement",
        object_id=f"{reference}@{version}",
        detail=_described(agreement, peer, group),
    )
    return agreement


def _described(
    agreement: Agreement, peer: Peer | None, group: PeerGroup | None
) -> dict[str, object]:
    return {
        "peer": peer.node_id if peer else None,
        "group": group.code if group else None,
        "send": agreement.classes(Direction.SEND),
        "receive": agreement.classes(Direction.RECEIVE),
        "conditions": json.loads(agreement.conditions),
        "daily_limit": agreement.daily_limit,
        "valid_from": timestamp(agreement.valid_from),
        "valid_until": timestamp(agreement.valid_until) if agreement.valid_until else None,
    }


def latest_version(session: Session, reference: str) -> Agreement:
    """Return the newest version of ``reference``; ``FED-127`` if there is none."""
    found = session.scalar(
        select(Agreement)
        .where(Agreement.reference == reference)
        .order_by(Agreement.version.desc())
        .limit(1)
    )
    if found is None:
        raise DomainError("FED-127", params={"reference": reference})
    return found


def revoke_agreement(
    session: Session, ctx: AuditContext, reference: str, now: dt.datetime | None = None
) -> Agreement:
    """Revoke agreement ``reference`` from ``now`` on; return its newest version."""
    current = latest_version(session, reference)
    if current.revoked_at is None:
        current.revoked_at = now or utcnow()
        session.flush()
        audit.record(
            session,
            ctx,
            "federation.agreement_revoke",
            object_type="agreement",
            object_id=f"{reference}@{current.version}",
        )
    return current


def agreement_allowing(
    session: Session, peer: Peer, direction: Direction, data_class: str, now: dt.datetime
) -> Agreement | None:
    """Return an agreement in force at ``now`` that lets ``data_class`` go in
    ``direction`` with ``peer``, or ``None``: nothing is allowed without one."""
    groups = select(PeerGroupMember.group_id).where(PeerGroupMember.peer_id == peer.id)
    candidates = session.scalars(
        select(Agreement)
        .where(or_(Agreement.peer_id == peer.id, Agreement.group_id.in_(groups)))
        .where(Agreement.superseded_at.is_(None), Agreement.revoked_at.is_(None))
        .order_by(Agreement.id)
    ).all()
    for agreement in candidates:
        if agreement.in_force(now) and data_class in agreement.classes(direction):
            return agreement
    return None


def agreements(session: Session) -> list[Agreement]:
    """Return the newest version of every agreement, by reference."""
    newest = (
        select(Agreement.reference, func.max(Agreement.version).label("version"))
        .group_by(Agreement.reference)
        .subquery()
    )
    return list(
        session.scalars(
            select(Agreement)
            .join(
                newest,
                (Agreement.reference == newest.c.reference)
                & (Agreement.version == newest.c.version),
            )
            .order_by(Agreement.reference)
        ).all()
    )
