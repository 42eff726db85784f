"""Alerts: notices about a wanted or missing person, a stolen or lost vehicle, firearm or
identity document, and deportation notices, each owned by the node that issued it.

An alert is identified everywhere by ``uid`` (a UUIDv7 its owner gave it); ``id`` is
this node's row number, for pages and cursors. Only the owner node changes or cancels
an alert; the other nodes hold copies (``received_from``: the peer it came from). What
an alert says is kept as JSON (``subject``), and what it may be matched on as keys
(``AlertKey``: normalised VIN, plate, serial, document number, and the sound keys of a
person's names), so that a record can light up the alerts about it with one indexed
lookup per identifier.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from atalaya.db import Base, UTCDateTime, utcnow


class AlertType(StrEnum):
    WANTED = "wanted"
    MISSING = "missing"
    STOLEN_VEHICLE = "stolen_vehicle"
    STOLEN_FIREARM = "stolen_firearm"
    STOLEN_DOCUMENT = "stolen_document"
    DEPORTATION = "deportation"

    @property
    def data_class(self) -> str:
        """The class an agreement must allow for this alert to travel (``alert:...``)."""
        return f"alert:{self.value}"


class AlertStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class KeyKind(StrEnum):
    VIN = "vin"
    PLATE = "plate"
    SERIAL = "serial"
    DOCUMENT = "document"
    NAME = "name"


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[AlertType] = mapped_column(String(20), index=True)
    status: Mapped[AlertStatus] = mapped_column(String(10), index=True)
    # The node that issued the alert, the only one that may change it.
    owner_node: Mapped[str] = mapped_column(String(64))
    # The peer this copy came from; empty for the alerts this node issued.
    received_from: Mapped[str] = mapped_column(String(64), default="", index=True)
    # The issuing agency, for alerts issued here (who may change them).
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    agency_code: Mapped[str] = mapped_column(String(32), default="")
    area_path: Mapped[str] = mapped_column(String(200), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    summary: Mapped[str] = mapped_column(String(500))
    subject: Mapped[dict[str, Any]] = mapped_column(JSON)
    review_date: Mapped[dt.date] = mapped_column(Date, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")
    # Deportation notices: when and by whom the receiving country acknowledged it.
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str] = mapped_column(String(100), default="")

    keys: Mapped[list[AlertKey]] = relationship(
        cascade="all, delete-orphan", back_populates="alert", lazy="selectin"
    )

    @property
    def received(self) -> bool:
        return bool(self.received_from)

    def due_for_review(self, today: dt.date) -> bool:
        return self.status == AlertStatus.ACTIVE and self.review_date <= today


class AlertKey(Base):
    """One identifier an alert is matched on, normalised (names: one sound key each)."""

    __tablename__ = "alert_keys"
    __table_args__ = (
        PrimaryKeyConstraint("kind", "value", "alert_id"),
        Index("ix_alert_keys_alert_id", "alert_id"),
    )

    kind: Mapped[KeyKind] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(100))
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))

    alert: Mapped[Alert] = relationship(back_populates="keys")
