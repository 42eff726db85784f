"""Every numbered rule of incident records, each broken by a record made to break it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from atalaya.errors import CODES
from atalaya.records.dates import parse_partial_date
from atalaya.records.rules import RULES, validate
from atalaya.records.schema import IncidentIn

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "records.md"


def record(**changes: Any) -> IncidentIn:
    """A valid homicide record, changed as the test needs."""
    base: dict[str, Any] = {
        "reference": "JUA-2026-000123",
        "occurred_from": "2026-11-20T22:15",
        "reported_at": "2026-11-20T23:40:00Z",
        "area": "MX-08-037",
        "latitude": 31.69,
        "longitude": -106.42,
        "place_type": "street",
        "offences": [{"iccs": "0101", "weapon": "firearm", "context": "organized_crime"}],
        "persons": [{"role": "victim", "sex": "male", "age": 27, "nationality": "MX"}],
        "vehicles": [{"status": "stolen", "vin": "1M8GDM9AXKP042788", "plate": "EFG-12-34"}],
        "firearms": [{"status": "seized", "serial": "AB1234", "type": "pistol"}],
        "documents": [
            {"status": "stolen", "type": "national_id", "number": "X1", "issuing_country": "MX"}
        ],
    }
    base.update(changes)
    return IncidentIn.model_validate(base)


def codes(incident: IncidentIn) -> set[tuple[str, str]]:
    return {(e.code, e.field) for e in validate(incident, NOW)}


def test_a_valid_record_breaks_no_rule() -> None:
    assert validate(record(), NOW) == []


BROKEN: list[tuple[str, dict[str, Any], str]] = [
    ("REC-101", {"reference": ""}, "reference"),
    ("REC-101", {"offences": []}, "offences"),
    ("REC-102", {"occurred_from": "2027-01"}, "occurred_from"),
    ("REC-103", {"occurred_to": "2026-11-19"}, "occurred_to"),
    ("REC-104", {"occurred_from": "2026-13-01"}, "occurred_from"),
    ("REC-105", {"offences": [{"iccs": "0108"}]}, "offences.0.iccs"),
    ("REC-106", {"offences": [{"iccs": "0201"}]}, "offences.0.iccs"),
    ("REC-107", {"offences": [{"iccs": "0103", "attempted": True}]}, "offences.0.attempted"),
    ("REC-108", {"offences": [{"iccs": "0101", "attempted": True}]}, "offences.0.attempted"),
    ("REC-109", {"persons": [{"role": "victim", "age": 130}]}, "persons.0.age"),
    ("REC-110", {"persons": [{"role": "suspect"}]}, "persons"),
    ("REC-111", {"vehicles": [{"status": "stolen", "vin": "1M8GDM9A1KP042788"}]}, "vehicles.0.vin"),
    ("REC-113", {"place_type": "spaceship"}, "place_type"),
    ("REC-114", {"reported_at": "2026-11-19T10:00:00Z"}, "reported_at"),
    ("REC-115", {"offences": [{"national_scheme": "us-nibrs", "national_code": "99Z"}]},
     "offences.0.national_code"),
    ("REC-116", {"offences": [{"national_scheme": "us-nibrs", "national_code": "09C"}]},
     "offences.0.iccs"),
    ("REC-117", {"latitude": 95.0}, "latitude"),
    ("REC-119", {"persons": [{"role": "victim", "nationality": "mx"}]}, "persons.0.nationality"),
    ("REC-120", {"occurred_from": "1234-05-06"}, "occurred_from"),
]  # fmt: skip


@pytest.mark.parametrize("code,change,field", BROKEN, ids=[f"{c}-{f}" for c, _, f in BROKEN])
def test_each_rule_names_the_field_it_concerns(
    code: str, change: dict[str, Any], field: str
) -> None:
    assert (code, field) in codes(record(**change))


def test_every_rule_has_a_breaking_record_here() -> None:
    checked = {code for code, _, _ in BROKEN}
    assert {spec.code for spec in RULES} <= checked


def test_all_errors_of_a_record_come_back_together() -> None:
    broken = record(reference="", occurred_from="2027", persons=[{"role": "suspect", "age": -1}],
                    place_type="spaceship")  # fmt: skip
    assert {"REC-101", "REC-102", "REC-109", "REC-110", "REC-113"} <= {c for c, _ in codes(broken)}


def test_a_national_code_stands_in_for_the_iccs_code() -> None:
    incident = record(offences=[{"national_scheme": "us-nibrs", "national_code": "09A"}])
    assert validate(incident, NOW) == []


def test_a_partial_date_keeps_its_span() -> None:
    march = parse_partial_date("2021-03")
    assert march is not None
    assert (march.earliest.day, march.latest.day) == (1, 31)
    assert parse_partial_date("2021-02-29") is None
    assert parse_partial_date("2020-02-29") is not None


def test_a_month_long_span_that_contains_the_start_is_not_before_it() -> None:
    assert codes(record(occurred_from="2026-11-20", occurred_to="2026-11")) == set()


def test_every_rule_is_documented_with_its_message() -> None:
    text = DOCS.read_text()
    rule_codes = {c for c in CODES if c.startswith("REC-")}
    missing = [c for c in sorted(rule_codes) if f"`{c}`" not in text]
    assert missing == []


def person(**changes: Any) -> list[dict[str, Any]]:
    return [{"role": "victim", "sex": "male", "age": 27} | changes]


# Arabic-Indic, full-width and Devanagari digits: Python's int() and \d read them all.
NOT_ASCII = ["٢٠٢٤-01-01", "２０２４-01-01", "२०२४", "2024-٠٣-14"]


@pytest.mark.parametrize("text", NOT_ASCII)
def test_dates_are_written_in_ascii_digits(text: str) -> None:
    assert parse_partial_date(text) is None
    broken = record(occurred_from=text, persons=person(date_of_birth=text))
    assert codes(broken) >= {("REC-104", "occurred_from"), ("REC-104", "persons.0.date_of_birth")}


def test_nothing_happens_is_reported_or_is_born_before_1900() -> None:
    early = record(
        occurred_from="1899-12", occurred_to="1234", reported_at="1899-12-31T23:59:00Z",
        persons=person(date_of_birth="1850-02-03"),
    )  # fmt: skip
    assert {(c, f) for c, f in codes(early) if c == "REC-120"} == {
        ("REC-120", "occurred_from"), ("REC-120", "occurred_to"), ("REC-120", "reported_at"),
        ("REC-120", "persons.0.date_of_birth"),
    }  # fmt: skip
    born_1900 = record(persons=person(date_of_birth="1900", age=120))
    assert codes(born_1900) == set()


def test_nobody_is_born_in_the_future() -> None:
    assert codes(record(persons=person(date_of_birth="2027-01-05"))) == {
        ("REC-102", "persons.0.date_of_birth")
    }
    assert codes(record(persons=person(date_of_birth="2026-11"))) == set()  # NOW's month


@pytest.mark.parametrize("moment", [0, "0", "20240101", 1732000000])
def test_a_report_time_is_iso_8601_text_never_a_count_of_seconds(moment: object) -> None:
    with pytest.raises(ValidationError) as raised:
        record(reported_at=moment)
    assert [e["loc"] for e in raised.value.errors()] == [("reported_at",)]
