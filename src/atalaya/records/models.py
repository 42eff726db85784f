"""Incidents with their offences, persons involved and things (vehicles, firearms,
identity documents), and every version of each incident."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    orm,
)
from sqlalchemy.orm import Mapped, WriteOnlyMapped, mapped_column, relationship

from atalaya.accounts.models import Agency
from atalaya.db import Base, UTCDateTime, utcnow


class Incident(Base):
    """One criminal incident as a reporting agency recorded it (its current version)."""

    __tablename__ = "incidents"
    __table_args__ = (UniqueConstraint("agency_id", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    reference: Mapped[str] = mapped_column(String(64))
    # As given (partial dates allowed), and the span they cover, for filtering.
    occurred_from: Mapped[str] = mapped_column(String(16))
    occurred_to: Mapped[str | None] = mapped_column(String(16))
    occurred_start: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    occurred_end: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    reported_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"), index=True)
    # The area's path when recorded, so jurisdiction filters need no join.
    area_path: Mapped[str] = mapped_column(String(200), index=True)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    place_type: Mapped[str | None] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(30), index=True)
    narrative: Mapped[str] = mapped_column(Text, default="")
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    agency: Mapped[Agency] = relationship(lazy="joined")
    offences: Mapped[list[Offence]] = relationship(
        cascade="all, delete-orphan", order_by="Offence.position", lazy="selectin"
    )
    persons: Mapped[list[Involvement]] = relationship(
        cascade="all, delete-orphan", order_by="Involvement.position", lazy="selectin"
    )
    vehicles: Mapped[list[Vehicle]] = relationship(
        cascade="all, delete-orphan", order_by="Vehicle.position", lazy="selectin"
    )
    firearms: Mapped[list[Firearm]] = relationship(
        cascade="all, delete-orphan", order_by="Firearm.position", lazy="selectin"
    )
    documents: Mapped[list[IdentityDocument]] = relationship(
        cascade="all, delete-orphan", order_by="IdentityDocument.position", lazy="selectin"
    )
    # Written through, never loaded with the incident (history() reads them).
    versions: WriteOnlyMapped[IncidentVersion] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class _Part:
    """Columns every part of an incident has: its incident and its place in the list."""

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)


class Offence(_Part, Base):
    __tablename__ = "offences"

    iccs_code: Mapped[str] = mapped_column(String(6), index=True)
    national_scheme: Mapped[str | None] = mapped_column(String(40))
    national_code: Mapped[str | None] = mapped_column(String(200))
    attempted: Mapped[bool] = mapped_column(Boolean, default=False)
    weapon: Mapped[str | None] = mapped_column(String(40))
    context: Mapped[str | None] = mapped_column(String(40))


class Involvement(_Part, Base):
    """A person's part in an incident, with what was known of them at the time."""

    __tablename__ = "involvements"

    role: Mapped[str] = mapped_column(String(20), index=True)
    given_names: Mapped[str] = mapped_column(String(200), default="")
    surnames: Mapped[str] = mapped_column(String(200), default="")
    sex: Mapped[str] = mapped_column(String(10), default="unknown")
    age: Mapped[int | None] = mapped_column(Integer)
    age_group: Mapped[str | None] = mapped_column(String(10))
    date_of_birth: Mapped[str | None] = mapped_column(String(16))
    nationality: Mapped[str | None] = mapped_column(String(2))
    relationship: Mapped[str | None] = mapped_column(String(40))

    # Written with the person, read only by searches. (``orm.`` because a column of this
    # class is itself called ``relationship``.)
    name_keys: WriteOnlyMapped[PersonNameKey] = orm.relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class PersonNameKey(Base):
    """One retrieval key of a person's name (``atalaya.matching.names.keys``): the sound
    key of a word, or of two or three of them, for finding candidates before they are
    compared.

    The key leads the primary key, so a lookup reads one contiguous run of the index;
    the incident's area, agency and restriction are copied here (and rewritten with the
    persons whenever the incident changes), so that who may see a candidate is decided
    in that same run, without visiting the incident. SQLite stores the table in key
    order (``WITHOUT ROWID``); PostgreSQL carries the copied columns in the key's index
    (``INCLUDE``) for index-only scans.
    """

    __tablename__ = "person_name_keys"
    __table_args__ = (
        PrimaryKeyConstraint(
            "key",
            "involvement_id",
            postgresql_include=["area_path", "restricted", "agency_id"],
        ),
        {"sqlite_with_rowid": False},
    )

    key: Mapped[str] = mapped_column(String(100))
    involvement_id: Mapped[int] = mapped_column(
        ForeignKey("involvements.id", ondelete="CASCADE"), index=True
    )
    area_path: Mapped[str] = mapped_column(String(200))
    restricted: Mapped[bool] = mapped_column(Boolean)
    agency_id: Mapped[int] = mapped_column(Integer)


class Vehicle(_Part, Base):
    __tablename__ = "vehicles"

    status: Mapped[str] = mapped_column(String(20))
    vin: Mapped[str | None] = mapped_column(String(40))
    vin_normalised: Mapped[str | None] = mapped_column(String(17), index=True)
    plate: Mapped[str | None] = mapped_column(String(20))
    plate_normalised: Mapped[str | None] = mapped_column(String(20), index=True)
    plate_area: Mapped[str | None] = mapped_column(String(32))
    make: Mapped[str] = mapped_column(String(60), default="")
    model: Mapped[str] = mapped_column(String(60), default="")
    colour: Mapped[str] = mapped_column(String(40), default="")
    year: Mapped[int | None] = mapped_column(Integer)


class Firearm(_Part, Base):
    __tablename__ = "firearms"

    status: Mapped[str] = mapped_column(String(20))
    serial: Mapped[str | None] = mapped_column(String(60))
    serial_normalised: Mapped[str | None] = mapped_column(String(60), index=True)
    make: Mapped[str] = mapped_column(String(60), default="")
    model: Mapped[str] = mapped_column(String(60), default="")
    calibre: Mapped[str] = mapped_column(String(30), default="")
    type: Mapped[str | None] = mapped_column(String(20))


class IdentityDocument(_Part, Base):
    __tablename__ = "identity_documents"

    status: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(30))
    number: Mapped[str] = mapped_column(String(60), default="")
    number_normalised: Mapped[str | None] = mapped_column(String(60), index=True)
    issuing_country: Mapped[str | None] = mapped_column(String(2))


class IncidentVersion(Base):
    """An incident as it stood after each change, and who made the change."""

    __tablename__ = "incident_versions"
    __table_args__ = (UniqueConstraint("incident_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by: Mapped[str] = mapped_column(String(64))
    agency_code: Mapped[str] = mapped_column(String(32))
