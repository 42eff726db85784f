"""The shape of an alert as it is issued (API, form, or a peer's envelope), before the
rules (``atalaya.alerts.rules``): types, lengths, unknown fields refused."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from atalaya.accounts.schemas import Strict


class AlertPerson(Strict):
    given_names: str = Field(default="", max_length=200)
    surnames: str = Field(default="", max_length=200)
    # A partial date: YYYY, YYYY-MM or YYYY-MM-DD.
    date_of_birth: str | None = Field(default=None, max_length=10)
    sex: str = Field(default="unknown", max_length=10)
    nationality: str | None = Field(default=None, max_length=2)
    description: str = Field(default="", max_length=2000)


class AlertVehicle(Strict):
    vin: str | None = Field(default=None, max_length=40)
    plate: str | None = Field(default=None, max_length=20)
    plate_area: str | None = Field(default=None, max_length=32)
    make: str = Field(default="", max_length=60)
    model: str = Field(default="", max_length=60)
    colour: str = Field(default="", max_length=40)


class AlertFirearm(Strict):
    serial: str | None = Field(default=None, max_length=60)
    make: str = Field(default="", max_length=60)
    model: str = Field(default="", max_length=60)
    calibre: str = Field(default="", max_length=30)


class AlertDocument(Strict):
    type: str = Field(default="passport", max_length=30)
    number: str | None = Field(default=None, max_length=60)
    issuing_country: str | None = Field(default=None, max_length=2)


class Deportation(Strict):
    """A deportation notice's particulars: who returns whom, when and how."""

    deporting_country: str = Field(default="", max_length=2)
    arrival_date: dt.date | None = None
    arrival_place: str = Field(default="", max_length=200)
    transport: str = Field(default="", max_length=200)
    # What the agreement allows to be said of the person's criminal record.
    criminal_record: str = Field(default="", max_length=4000)


class AlertIn(Strict):
    type: str = Field(max_length=20)
    summary: str = Field(max_length=500)
    review_date: dt.date
    person: AlertPerson | None = None
    warrant_reference: str | None = Field(default=None, max_length=100)
    issuing_authority: str | None = Field(default=None, max_length=200)
    vehicle: AlertVehicle | None = None
    firearm: AlertFirearm | None = None
    document: AlertDocument | None = None
    deportation: Deportation | None = None


class AlertChange(AlertIn):
    """A new version of an alert: its content, and the version it was read at."""

    version: int = Field(ge=1)


class AlertCancel(Strict):
    reason: str = Field(min_length=1, max_length=500)
    version: int = Field(ge=1)
