"""Issuing, changing, cancelling and finding alerts, and the records they match.

Who may do what (``roles.toml``): ``alert.read`` sees every alert this node holds (they
exist to be seen by police at a check); ``alert.issue`` issues alerts for one's agency
and changes or cancels those of agencies in one's jurisdiction; ``alert.acknowledge``
acknowledges a deportation notice received from another node. Only the owner node
changes an alert: the copies received from peers change only by their owner's word
(``apply_received``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from atalaya.accounts.authz import Principal, Scope, authorize
from atalaya.alerts.models import Alert, AlertKey, AlertStatus, AlertType, KeyKind
from atalaya.alerts.rules import validate
from atalaya.alerts.schema import AlertIn
from atalaya.audit import service as audit
from atalaya.audit.service import AuditContext
from atalaya.db import utcnow
from atalaya.errors import DomainError
from atalaya.geo.models import Area, AreaLevel
from atalaya.matching.identifiers import (
    normalise_document_number,
    normalise_plate,
    normalise_serial,
    normalise_vin,
)
from atalaya.matching.names import keys as name_keys
from atalaya.records import persons, things
from atalaya.records.models import Incident


def new_uid() -> str:
    """Return a new UUIDv7: time-ordered, so that alerts sort by when they were issued."""
    from atalaya.federation.envelopes import new_envelope_id

    return new_envelope_id()


def countries(session: Session) -> set[str]:
    return set(session.scalars(select(Area.code).where(Area.level == AreaLevel.COUNTRY)))


def check(session: Session, data: AlertIn) -> AlertType:
    """Return the alert's type, or raise every rule it breaks (``ALR-1xx``)."""
    errors = validate(data, dt.date.today(), countries(session))
    if errors:
        raise DomainError(errors[0].code, errors=errors)
    return AlertType(data.type)


def create_alert(
    session: Session, ctx: AuditContext, principal: Principal, data: AlertIn, node_id: str
) -> Alert:
    """Issue an alert for the principal's agency, owned by this node (``node_id``)."""
    authorize(principal, "alert.issue")
    kind = check(session, data)
    alert = Alert(
        uid=new_uid(),
        type=kind,
        status=AlertStatus.ACTIVE,
        owner_node=node_id,
        received_from="",
        agency_id=principal.agency_id,
        agency_code=principal.agency_code,
        area_path=principal.jurisdiction_path,
        version=1,
    )
    fill(alert, data)
    session.add(alert)
    session.flush()
    _audit(session, ctx, "alert.issue", alert)
    return alert


def update_alert(
    session: Session,
    ctx: AuditContext,
    principal: Principal,
    alert: Alert,
    data: AlertIn,
    version: int,
) -> Alert:
    """Replace the content of an alert this node owns, read at ``version``."""
    may_change(principal, alert, version)
    kind = check(session, data)
    if kind != alert.type:
        raise DomainError("ALR-113", field="type", params={"type": str(alert.type)})
    fill(alert, data)
    alert.version += 1
    alert.updated_at = utcnow()
    session.flush()
    _audit(session, ctx, "alert.update", alert)
    return alert


def cancel_alert(
    session: Session,
    ctx: AuditContext,
    principal: Principal,
    alert: Alert,
    reason: str,
    version: int,
) -> Alert:
    """Cancel an alert this node owns; its copies on peers are cancelled with it."""
    may_change(principal, alert, version)
    alert.status = AlertStatus.CANCELLED
    alert.cancelled_at = alert.updated_at = utcnow()
    alert.cancel_reason = reason
    alert.version += 1
    session.flush()
    _audit(session, ctx, "alert.cancel", alert, reason=reason)
    return alert


def acknowledge(session: Session, ctx: AuditContext, principal: Principal, alert: Alert) -> Alert:
    """Acknowledge a deportation notice received from another node (once)."""
    authorize(principal, "alert.acknowledge")
    if alert.type != AlertType.DEPORTATION or not alert.received:
        raise DomainError("ALR-110")
    if alert.acknowledged_at is None:
        alert.acknowledged_at = utcnow()
        alert.acknowledged_by = f"{principal.agency_code}/{principal.username}"
        session.flush()
        _audit(session, ctx, "alert.acknowledge", alert)
    return alert


def may_change(principal: Principal, alert: Alert, version: int) -> None:
    """Return if ``principal`` may change ``alert`` read at ``version``; raise otherwise."""
    authorize(principal, "alert.issue")
    if alert.received:
        raise DomainError("ALR-108", params={"owner": alert.owner_node})
    authorize(principal, "alert.issue", Scope(alert.area_path, alert.agency_id))
    if alert.status == AlertStatus.CANCELLED:
        raise DomainError("ALR-109")
    if version != alert.version:
        raise DomainError("ALR-114", field="version", params={"version": alert.version})


def fill(alert: Alert, data: AlertIn) -> None:
    """Set what ``alert`` says, and the keys it is matched on, from ``data``."""
    alert.summary = data.summary
    alert.review_date = data.review_date
    dumped = data.model_dump(
        mode="json", exclude={"type", "summary", "review_date", "version"}, exclude_none=True
    )
    # What the alert says, without the blanks.
    alert.subject = {
        part: {k: v for k, v in value.items() if v != ""} if isinstance(value, dict) else value
        for part, value in dumped.items()
        if value != ""
    }
    alert.keys = [AlertKey(kind=kind, value=value) for kind, value in sorted(keys_of(data))]


def keys_of(data: AlertIn) -> set[tuple[KeyKind, str]]:
    """Return the normalised identifiers ``data`` may be matched on."""
    found: set[tuple[KeyKind, str | None]] = set()
    if data.vehicle:
        found.add((KeyKind.VIN, normalise_vin(data.vehicle.vin or "")))
        found.add((KeyKind.PLATE, normalise_plate(data.vehicle.plate or "")))
    if data.firearm:
        found.add((KeyKind.SERIAL, normalise_serial(data.firearm.serial or "")))
    if data.document:
        found.add((KeyKind.DOCUMENT, normalise_document_number(data.document.number or "")))
    if person := data.person:
        found |= {(KeyKind.NAME, k) for k in name_keys(person.given_names, person.surnames)}
    return {(kind, value) for kind, value in found if value}


def _audit(
    session: Session, ctx: AuditContext, action: str, alert: Alert, **detail: object
) -> None:
    audit.record(
        session,
        ctx,
        action,
        object_type="alert",
        object_id=alert.uid,
        detail={"type": str(alert.type), "version": alert.version, **detail},
    )


def alert_for(session: Session, principal: Principal, action: str, uid: str) -> Alert:
    """Return the alert with this uid, for ``principal`` to take ``action`` on.

    Raises ``AUTH-111`` when no role grants ``action``, before looking, so that the
    answer says nothing of which ids exist; ``API-106`` when there is no such alert.
    Whether the alert is in the principal's jurisdiction is the action's to check.
    """
    authorize(principal, action)
    return get_alert(session, uid)


def get_alert(session: Session, uid: str) -> Alert:
    """Return the alert with this uid; raise ``API-106`` when there is none."""
    alert = session.scalar(select(Alert).where(Alert.uid == uid))
    if alert is None:
        raise DomainError("API-106")
    return alert


@dataclass(frozen=True)
class AlertFilter:
    type: str | None = None
    status: str | None = None
    # "received": from peers; "issued": by this node.
    origin: str | None = None
    due_for_review: bool = False
    vin: str | None = None
    plate: str | None = None
    serial: str | None = None
    document: str | None = None
    name: str | None = None


def listed(flt: AlertFilter) -> Select[Alert]:
    """Return the alerts matching ``flt`` (identifiers compared normalised)."""
    stmt = select(Alert)
    if flt.type:
        stmt = stmt.where(Alert.type == flt.type)
    if flt.status:
        stmt = stmt.where(Alert.status == flt.status)
    if flt.origin == "received":
        stmt = stmt.where(Alert.received_from != "")
    elif flt.origin == "issued":
        stmt = stmt.where(Alert.received_from == "")
    if flt.due_for_review:
        stmt = stmt.where(Alert.status == AlertStatus.ACTIVE, Alert.review_date <= dt.date.today())
    for kind, value in _wanted_keys(flt):
        key = select(AlertKey.alert_id).where(AlertKey.kind == kind, AlertKey.value == value)
        stmt = stmt.where(Alert.id.in_(key))
    return stmt


def _wanted_keys(flt: AlertFilter) -> list[tuple[KeyKind, str]]:
    wanted = [
        (KeyKind.VIN, normalise_vin(flt.vin or "")),
        (KeyKind.PLATE, normalise_plate(flt.plate or "")),
        (KeyKind.SERIAL, normalise_serial(flt.serial or "")),
        (KeyKind.DOCUMENT, normalise_document_number(flt.document or "")),
    ]
    given = [flt.vin, flt.plate, flt.serial, flt.document]
    for (kind, value), text in zip(wanted, given, strict=True):
        if text and value is None:
            raise DomainError("ALR-106", field=kind.value, params={"value": text})
    found = [(kind, value) for kind, value in wanted if value]
    if flt.name:
        given_names, _, surnames = flt.name.rpartition(" ")
        found += [(KeyKind.NAME, k) for k in sorted(name_keys(given_names, surnames))[:1]]
    return found


@dataclass(frozen=True)
class RecordMatch:
    """A record that matches an alert: which incident, what in it, and how."""

    incident: Incident
    kind: str
    thing: Any
    matched: str
    score: float | None = None


def matching_records(session: Session, principal: Principal, alert: Alert) -> list[RecordMatch]:
    """Return the records the principal may see that match ``alert``."""
    subject: dict[str, Any] = alert.subject
    found: list[RecordMatch] = []
    if vehicle := subject.get("vehicle"):
        hits = things.find_vehicles(
            session, principal, plate=vehicle.get("plate"), vin=vehicle.get("vin")
        )
        found += [RecordMatch(h.incident, "vehicle", h.thing, h.matched) for h in hits]
    if firearm := subject.get("firearm"):
        hits = things.find_firearms(session, principal, serial=firearm.get("serial") or "")
        found += [RecordMatch(h.incident, "firearm", h.thing, h.matched) for h in hits]
    if document := subject.get("document"):
        hits = things.find_documents(
            session,
            principal,
            number=document.get("number") or "",
            issuing_country=document.get("issuing_country"),
        )
        found += [RecordMatch(h.incident, "document", h.thing, h.matched) for h in hits]
    if person := subject.get("person"):
        query = persons.PersonQuery(
            given_names=person.get("given_names", ""),
            surnames=person.get("surnames", ""),
            date_of_birth=person.get("date_of_birth"),
            nationality=person.get("nationality"),
        )
        found += [
            RecordMatch(h.incident, "person", h.person, ", ".join(h.reasons), h.score)
            for h in persons.find_persons(session, principal, query, limit=20)
        ]
    return found


def alerts_for_incident(session: Session, incident: Incident) -> list[Alert]:
    """Return the active alerts that match something recorded in ``incident``: a
    vehicle, firearm or document by its identifier, a person by name (scored as the
    person search does, with the date of birth when both give one)."""
    wanted: set[tuple[KeyKind, str]] = set()
    for vehicle in incident.vehicles:
        wanted |= {(KeyKind.VIN, v) for v in [vehicle.vin_normalised] if v}
        wanted |= {(KeyKind.PLATE, v) for v in [vehicle.plate_normalised] if v}
    wanted |= {(KeyKind.SERIAL, f.serial_normalised) for f in incident.firearms
               if f.serial_normalised}  # fmt: skip
    wanted |= {
        (KeyKind.DOCUMENT, d.number_normalised) for d in incident.documents if d.number_normalised
    }
    named = [p for p in incident.persons if p.surnames or p.given_names]
    for person in named:
        wanted |= {(KeyKind.NAME, k) for k in name_keys(person.given_names, person.surnames)}
    if not wanted:
        return []
    conditions = [(AlertKey.kind == kind) & (AlertKey.value == value) for kind, value in wanted]
    rows = session.scalars(
        select(Alert)
        .where(
            Alert.status == AlertStatus.ACTIVE,
            Alert.id.in_(select(AlertKey.alert_id).where(or_(*conditions))),
        )
        .order_by(Alert.id.desc())
    ).all()
    return [a for a in rows if _really_matches(a, incident)]


def _really_matches(alert: Alert, incident: Incident) -> bool:
    """Keep a name match only when the person search would score it as a hit."""
    subject = alert.subject
    if _thing_matches(subject, incident):
        return True
    person = subject.get("person")
    if not person:
        return False
    query = persons.PersonQuery(
        given_names=person.get("given_names", ""),
        surnames=person.get("surnames", ""),
        date_of_birth=person.get("date_of_birth"),
        nationality=person.get("nationality"),
    )
    return any(persons.scores_as_hit(query, p) for p in incident.persons)


def _thing_matches(subject: dict[str, Any], incident: Incident) -> bool:
    vehicle, firearm, document = (subject.get(p) or {} for p in ("vehicle", "firearm", "document"))
    vin = normalise_vin(vehicle.get("vin") or "")
    plate = normalise_plate(vehicle.get("plate") or "")
    serial = normalise_serial(firearm.get("serial") or "")
    number = normalise_document_number(document.get("number") or "")
    return (
        any(vin and v.vin_normalised == vin for v in incident.vehicles)
        or any(plate and v.plate_normalised == plate for v in incident.vehicles)
        or any(serial and f.serial_normalised == serial for f in incident.firearms)
        or any(number and d.number_normalised == number for d in incident.documents)
    )
