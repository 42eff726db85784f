"""What an alert must say, by type: every broken rule comes back at once, each with its
field and code (``ALR-1xx``, and the records' date rules ``REC-102`` and ``REC-120`` for
a date of birth; listed in docs/alerts.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection

from atalaya.alerts.models import AlertType
from atalaya.alerts.schema import AlertIn
from atalaya.errors import FieldError
from atalaya.matching.identifiers import (
    normalise_document_number,
    normalise_plate,
    normalise_serial,
    normalise_vin,
    vin_is_valid,
)
from atalaya.records.dates import before_first_year, parse_partial_date
from atalaya.records.vocabularies import vocabularies

# The part each type is about, and the parts it may carry besides.
SUBJECT = {
    AlertType.WANTED: "person",
    AlertType.MISSING: "person",
    AlertType.DEPORTATION: "person",
    AlertType.STOLEN_VEHICLE: "vehicle",
    AlertType.STOLEN_FIREARM: "firearm",
    AlertType.STOLEN_DOCUMENT: "document",
}
ALSO = {
    AlertType.WANTED: {"warrant_reference", "issuing_authority", "document", "vehicle"},
    AlertType.MISSING: {"document", "vehicle"},
    AlertType.DEPORTATION: {"deportation", "document"},
    AlertType.STOLEN_VEHICLE: set(),
    AlertType.STOLEN_FIREARM: set(),
    AlertType.STOLEN_DOCUMENT: set(),
}
PARTS: tuple[str, ...] = ("person", "warrant_reference", "issuing_authority", "vehicle")
PARTS += ("firearm", "document", "deportation")


def validate(data: AlertIn, today: dt.date, countries: Collection[str]) -> list[FieldError]:
    """Return every rule ``data`` breaks (empty: none). ``countries`` are the known
    ISO 3166-1 codes."""
    try:
        kind = AlertType(data.type)
    except ValueError:
        choices = ", ".join(t.value for t in AlertType)
        return [FieldError("type", "ALR-101", {"value": data.type, "choices": choices})]
    errors: list[FieldError] = []
    if not data.summary:
        errors.append(FieldError("summary", "ALR-102", {"part": "summary"}))
    if data.review_date <= today:
        errors.append(FieldError("review_date", "ALR-104", {"today": today.isoformat()}))
    allowed = {SUBJECT[kind], *ALSO[kind]}
    for part in PARTS:
        given = getattr(data, part) is not None
        if part == SUBJECT[kind] and not given:
            errors.append(FieldError(part, "ALR-102", {"part": part}))
        elif given and part not in allowed:
            errors.append(FieldError(part, "ALR-107", {"part": part, "type": kind.value}))
    if kind is AlertType.WANTED and not data.warrant_reference:
        errors.append(FieldError("warrant_reference", "ALR-103"))
    if kind is AlertType.DEPORTATION:
        errors += _deportation(data, countries)
    errors += _identifiers(data, today, countries)
    return errors


def _deportation(data: AlertIn, countries: Collection[str]) -> list[FieldError]:
    errors: list[FieldError] = []
    notice = data.deportation
    if notice is None:
        return [FieldError("deportation", "ALR-102", {"part": "deportation"})]
    if notice.deporting_country not in countries:
        errors.append(_unknown_country("deportation.deporting_country", notice.deporting_country))
    if notice.arrival_date is None:
        errors.append(FieldError("deportation.arrival_date", "ALR-102", {"part": "arrival_date"}))
    if data.person is not None and not data.person.nationality:
        # The notice goes to the country of nationality: it must be known.
        errors.append(FieldError("person.nationality", "ALR-102", {"part": "nationality"}))
    return errors


def _identifiers(data: AlertIn, today: dt.date, countries: Collection[str]) -> list[FieldError]:
    errors: list[FieldError] = []
    person = data.person
    if person is not None:
        if not person.surnames and not person.given_names:
            errors.append(FieldError("person.surnames", "ALR-105", {"part": "person"}))
        errors += _date_of_birth(person.date_of_birth, today)
        if person.sex not in vocabularies()["sex"]:
            errors.append(FieldError("person.sex", "ALR-101", _choices(person.sex, "sex")))
        if person.nationality and person.nationality not in countries:
            errors.append(_unknown_country("person.nationality", person.nationality))
    vehicle = data.vehicle
    if vehicle is not None:
        if not vehicle.vin and not vehicle.plate:
            errors.append(FieldError("vehicle.vin", "ALR-105", {"part": "vehicle"}))
        if vehicle.vin and not _valid_vin(vehicle.vin):
            errors.append(FieldError("vehicle.vin", "ALR-106", {"value": vehicle.vin}))
        errors += _readable("vehicle.plate", vehicle.plate, normalise_plate)
    if data.firearm is not None:
        if not data.firearm.serial:
            errors.append(FieldError("firearm.serial", "ALR-105", {"part": "firearm"}))
        errors += _readable("firearm.serial", data.firearm.serial, normalise_serial)
    document = data.document
    if document is not None:
        if not document.number:
            errors.append(FieldError("document.number", "ALR-105", {"part": "document"}))
        errors += _readable("document.number", document.number, normalise_document_number)
        if document.issuing_country and document.issuing_country not in countries:
            errors.append(_unknown_country("document.issuing_country", document.issuing_country))
    return errors


def _date_of_birth(text: str | None, today: dt.date) -> list[FieldError]:
    """Refuse a date of birth as a record's is refused: not a partial date in ASCII
    digits (``ALR-111``), in the future (``REC-102``), before 1900 (``REC-120``)."""
    if not text:
        return []
    span = parse_partial_date(text)
    if span is None:
        code = "ALR-111"
    elif span.earliest.date() > today:
        code = "REC-102"
    elif before_first_year(span.earliest):
        code = "REC-120"
    else:
        return []
    return [FieldError("person.date_of_birth", code)]


def _unknown_country(field: str, value: str) -> FieldError:
    return FieldError(field, "ALR-112", {"value": value})


def _valid_vin(text: str) -> bool:
    vin = normalise_vin(text)
    return vin is not None and vin_is_valid(vin)


def _readable(
    field: str, value: str | None, normalise: Callable[[str], str | None]
) -> list[FieldError]:
    if value and normalise(value) is None:
        return [FieldError(field, "ALR-106", {"value": value})]
    return []


def _choices(value: str, vocabulary: str) -> dict[str, object]:
    return {"value": value, "choices": ", ".join(sorted(vocabularies()[vocabulary]))}
