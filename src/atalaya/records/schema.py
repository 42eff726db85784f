"""The shape of an incident as it is submitted (API, forms, imports), before the rules.

Shapes only: types, lengths, unknown fields refused. Everything a user can get wrong in
substance (dates, codes, vocabularies, ages...) is left to ``rules.py``, so that all of
a record's errors come back together, each with its numbered rule.
"""

from __future__ import annotations

from pydantic import Field

from atalaya.accounts.schemas import Strict
from atalaya.records.dates import Moment

Text = str


class OffenceIn(Strict):
    iccs: Text | None = Field(default=None, max_length=6)
    national_scheme: Text | None = Field(default=None, max_length=40)
    national_code: Text | None = Field(default=None, max_length=200)
    attempted: bool = False
    weapon: Text | None = Field(default=None, max_length=40)
    context: Text | None = Field(default=None, max_length=40)


class PersonIn(Strict):
    role: Text = Field(max_length=20)
    given_names: Text = Field(default="", max_length=200)
    surnames: Text = Field(default="", max_length=200)
    sex: Text = Field(default="unknown", max_length=10)
    age: int | None = None
    age_group: Text | None = Field(default=None, max_length=10)
    date_of_birth: Text | None = Field(default=None, max_length=16)
    nationality: Text | None = Field(default=None, max_length=2)
    relationship: Text | None = Field(default=None, max_length=40)


class VehicleIn(Strict):
    status: Text = Field(max_length=20)
    vin: Text | None = Field(default=None, max_length=40)
    plate: Text | None = Field(default=None, max_length=20)
    plate_area: Text | None = Field(default=None, max_length=32)
    make: Text = Field(default="", max_length=60)
    model: Text = Field(default="", max_length=60)
    colour: Text = Field(default="", max_length=40)
    year: int | None = Field(default=None, ge=1886, le=2100)


class FirearmIn(Strict):
    status: Text = Field(max_length=20)
    serial: Text | None = Field(default=None, max_length=60)
    make: Text = Field(default="", max_length=60)
    model: Text = Field(default="", max_length=60)
    calibre: Text = Field(default="", max_length=30)
    type: Text | None = Field(default=None, max_length=20)


class DocumentIn(Strict):
    status: Text = Field(max_length=20)
    type: Text = Field(max_length=30)
    number: Text = Field(default="", max_length=60)
    issuing_country: Text | None = Field(default=None, max_length=2)


class IncidentIn(Strict):
    reference: Text = Field(default="", max_length=64)
    occurred_from: Text = Field(default="", max_length=16)
    occurred_to: Text | None = Field(default=None, max_length=16)
    reported_at: Moment | None = None
    area: Text = Field(default="", max_length=32)
    latitude: float | None = None
    longitude: float | None = None
    place_type: Text | None = Field(default=None, max_length=30)
    status: Text = Field(default="open", max_length=30)
    narrative: Text = Field(default="", max_length=20000)
    restricted: bool = False
    offences: list[OffenceIn] = Field(default_factory=list, max_length=50)
    persons: list[PersonIn] = Field(default_factory=list, max_length=500)
    vehicles: list[VehicleIn] = Field(default_factory=list, max_length=100)
    firearms: list[FirearmIn] = Field(default_factory=list, max_length=100)
    documents: list[DocumentIn] = Field(default_factory=list, max_length=100)
