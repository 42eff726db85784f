"""The numbered validation rules of incident records, in the manner of NIBRS.

Each rule has a stable code (``REC-1xx``), concerns a field, and has a message in the
user's language (``atalaya.errors.CODES``). ``validate`` runs every rule and returns
all the errors of a record at once; a record with any error is not stored. Rules that
need the database (``REC-112`` duplicate reference, ``REC-118`` unknown area) run in
the service that stores records. docs/records.md lists them all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from atalaya.classification.crosswalks import SCHEMES, crosswalk
from atalaya.classification.iccs import iccs
from atalaya.db import as_utc
from atalaya.errors import FieldError
from atalaya.matching.identifiers import normalise_vin, vin_is_valid
from atalaya.records.dates import PartialDate, before_first_year, parse_partial_date
from atalaya.records.schema import IncidentIn
from atalaya.records.vocabularies import allowed

# Acts leading to death: a record of one of these needs its victim.
DEATH_CODES = ("0101", "0102", "0103")
MIN_AGE, MAX_AGE = 0, 120

Rule = Callable[[IncidentIn, dt.datetime], Iterator[FieldError]]


@dataclass(frozen=True)
class RuleSpec:
    code: str
    check: Rule


RULES: list[RuleSpec] = []


def rule(code: str) -> Callable[[Rule], Rule]:
    def register(check: Rule) -> Rule:
        RULES.append(RuleSpec(code, check))
        return check

    return register


def validate(incident: IncidentIn, now: dt.datetime | None = None) -> list[FieldError]:
    """Return every rule broken by ``incident`` (empty when it may be stored)."""
    moment = now or dt.datetime.now(dt.UTC)
    return [error for spec in RULES for error in spec.check(incident, moment)]


def _date(text: str | None) -> PartialDate | None:
    return parse_partial_date(text) if text else None


@rule("REC-101")
def required_fields(incident: IncidentIn, now: dt.datetime) -> Iterator[FieldError]:
    for name in ("reference", "occurred_from", "area"):
        if not getattr(incident, name).strip():
            yield FieldError(name, "REC-101")
    if not incident.offences:
        yield FieldError("offences", "REC-101")


def _partial_dates(incident: IncidentIn) -> list[tuple[str, str | None]]:
    """Return each partial date of ``incident`` by field: when it happened, and births."""
    fields = [("occurred_from", incident.occurred_from), ("occurred_to", incident.occurred_to)]
    fields += [
        (f"persons.{i}.date_of_birth", p.date_of_birth) for i, p in enumerate(incident.persons)
    ]
    return fields


@rule("REC-104")
def partial_dates_are_dates(incident: IncidentIn, now: dt.datetime) -> Iterator[FieldError]:
    for name, text in _partial_dates(incident):
        if text and _date(text) is None:
            yield FieldError(name, "REC-104")


@rule("REC-102")
def nothing_in_the_future(incident: IncidentIn, now: dt.datetime) -> Iterator[FieldError]:
    # Nobody in a record is born in the future either.
    for name, text in _partial_dates(incident):
        span = _date(text)
        if span and span.earliest > now:
            yield FieldError(name, "REC-102")
    if incident.reported_at and as_utc(incident.reported_at) > now:
        yield FieldError("reported_at", "REC-102")


@rule("REC-120")
def nothing_before_1900(incident: IncidentIn, now: dt.datetime) -> Iterator[FieldError]:
    for name, text in _partial_dates(incident):
        span = _date(text)
        if span and before_first_year(span.earliest):
            yield FieldError(name, "REC-120")
    if incident.reported_at and before_first_year(as_utc(incident.reported_at)):
        yield FieldError("reported_at", "REC-120")


@rule("REC-103")
def end_not_before_start(incident: IncidentIn, now: dt.datetime) -> Iterator[FieldError]:
    start, end = _date(incident.occurred_from), _date(incident.occurred_to)
    if start and end and end.latest < start.earliest:
        yield FieldError("occurred_to", "REC-103")


@rule("REC-114")
def reported_after_it_happened(incident: IncidentIn, now: dt.datetime) -> Iterator[FieldError]:
    start = _date(incident.occurred_from)
    if start and incident.reported_at and as_utc(incident.reported_at) < start.earliest:
        yield FieldError("reported_at", "REC-114")


@rule("REC-105")
def iccs_code_exists(incident: IncidentIn, now: dt.datetime) -> Iterator[FieldError]:
    for i, offence in enumerate(incident.offences):
        if offence.iccs and iccs().get(offence.iccs) is None:
            yield FieldError(f"offences.{i}.iccs", "REC-105", {"code": offence.iccs})


@rule("REC-106")
def iccs_code_detailed_enough(incident: IncidentIn, now: dt.datetime) -> Iterator[FieldError]:
    # Only codes given as ICCS: a code found through a national one is as detailed as
    # the national category allows (the crosswalk picks the most detailed that fits).
    for i, code in _known_codes(incident):
        if incident.offences[i].iccs and not iccs().recordable(code):
            yield FieldError(f"offences.{i}.iccs", "REC-106", {"code": code})


@rule("REC-107")
def attempts_only_where_possible(incident: IncidentIn, now: dt.datetime) -> Iterator[FieldError]:
    for i, code in _known_codes(incident):
        entry = iccs().get(code)
        if incident.offences[i].attempted and entry and entry.attempt == "not_applicable":
            yield FieldError(f"offences.{i}.attempted", "REC-107", {"code": code})


@rule("REC-108")
def attempted_homicide_has_its_own_code(
    incident: IncidentIn, now: dt.datetime
) -> Iterator[FieldError]:
    for i, code in _known_codes(incident):
        entry = iccs().get(code)
        if incident.offences[i].attempted and entry and entry.attempt == "separate":
            yield FieldError(f"offences.{i}.attempted", "REC-108", {"code": code})


@rule("REC-110")
def a_death_has_a_victim(incident: IncidentIn, now: dt.datetime) -> Iterator[FieldError]:
    deaths = [
        code
        for _, code in _known_codes(incident)
        if any(iccs().is_within(code, death) for death in DEATH_CODES)
    ]
    if deaths and not any(p.role == "victim" for p in incident.persons):
        yield FieldError("persons", "REC-110", {"code": deaths[0]})


@rule("REC-109")
def ages_are_human(incident: IncidentIn, now: dt.datetime) -> Iterator[FieldError]:
    for i, person in enumerate(incident.persons):
        if person.age is not None and not MIN_AGE <= person.age <= MAX_AGE:
            yield FieldError(f"persons.{i}.age", "REC-109", {"min": MIN_AGE, "max": MAX_AGE})


@rule("REC-111")
def vins_are_valid(incident: IncidentIn, now: dt.datetime) -> Iterator[FieldError]:
    for i, vehicle in enumerate(incident.vehicles):
        if not vehicle.vin:
            continue
        vin = normalise_vin(vehicle.vin)
        if vin is None or not vin_is_valid(vin):
            yield FieldError(f"vehicles.{i}.vin", "REC-111")


# Which vocabulary each coded field of a record draws from.
_VOCABULARY_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "": (("status", "incident_status"), ("place_type", "place_type")),
    "offences": (("weapon", "weapon"), ("context", "context")),
    "persons": (
        ("role", "person_role"), ("sex", "sex"), ("age_group", "age_group"),
        ("relationship", "relationship"),
    ),
    "vehicles": (("status", "item_status"),),
    "firearms": (("status", "item_status"), ("type", "firearm_type")),
    "documents": (("status", "item_status"), ("type", "document_type")),
}  # fmt: skip


@rule("REC-113")
def values_come_from_their_vocabulary(
    incident: IncidentIn, now: dt.datetime
) -> Iterator[FieldError]:
    for part, fields in _VOCABULARY_FIELDS.items():
        items = [("", incident)] if not part else enumerate(getattr(incident, part))
        for index, item in items:
            prefix = f"{part}.{index}." if part else ""
            for name, vocabulary in fields:
                value = getattr(item, name)
                if value is not None and not allowed(vocabulary, value):
                    yield FieldError(prefix + name, "REC-113")


@rule("REC-115")
def national_codes_are_known(incident: IncidentIn, now: dt.datetime) -> Iterator[FieldError]:
    for i, offence in enumerate(incident.offences):
        if offence.national_code is None and offence.national_scheme is None:
            continue
        scheme, code = offence.national_scheme, offence.national_code
        if scheme not in SCHEMES or code is None or code not in crosswalk(scheme):
            yield FieldError(f"offences.{i}.national_code", "REC-115")


@rule("REC-116")
def offences_have_an_iccs_code(incident: IncidentIn, now: dt.datetime) -> Iterator[FieldError]:
    for i, offence in enumerate(incident.offences):
        if offence.iccs:
            continue
        scheme, code = offence.national_scheme, offence.national_code
        known = scheme in SCHEMES and code is not None and code in crosswalk(scheme)
        if not known and (scheme or code):
            continue  # REC-115 already says the national code is unknown
        if not known or crosswalk(scheme).map(code).iccs is None:  # type: ignore[arg-type]
            yield FieldError(f"offences.{i}.iccs", "REC-116")


@rule("REC-117")
def coordinates_are_on_earth(incident: IncidentIn, now: dt.datetime) -> Iterator[FieldError]:
    lat, lon = incident.latitude, incident.longitude
    if (lat is None) != (lon is None):
        yield FieldError("latitude" if lat is None else "longitude", "REC-117")
    if lat is not None and not -90 <= lat <= 90:
        yield FieldError("latitude", "REC-117")
    if lon is not None and not -180 <= lon <= 180:
        yield FieldError("longitude", "REC-117")


@rule("REC-119")
def countries_are_iso_codes(incident: IncidentIn, now: dt.datetime) -> Iterator[FieldError]:
    fields = [(f"persons.{i}.nationality", p.nationality) for i, p in enumerate(incident.persons)]
    fields += [
        (f"documents.{i}.issuing_country", d.issuing_country)
        for i, d in enumerate(incident.documents)
    ]
    for name, value in fields:
        if value is not None and not (len(value) == 2 and value.isascii() and value.isupper()):
            yield FieldError(name, "REC-119")


def iccs_code_of(offence_index: int, incident: IncidentIn) -> str | None:
    """Return the offence's ICCS code, given or found through its national code."""
    offence = incident.offences[offence_index]
    if offence.iccs:
        return offence.iccs
    scheme, code = offence.national_scheme, offence.national_code
    if scheme in SCHEMES and code is not None and code in crosswalk(scheme):
        return crosswalk(scheme).map(code).iccs
    return None


def _known_codes(incident: IncidentIn) -> Iterator[tuple[int, str]]:
    for i in range(len(incident.offences)):
        code = iccs_code_of(i, incident)
        if code and iccs().get(code) is not None:
            yield i, code
