"""Reading the FBI NIBRS flat file: Group A incident reports, segments 1 to 6.

Each line is one segment: positions 1-4 its length, 5 its level (1 administrative,
2 offense, 3 property, 4 victim, 5 offender, 6 arrestee; 7 is a Group B arrest),
6 the action type, 17-25 the ORI, 26-37 the incident number. An administrative
segment starts an incident; the segments after it with the same incident number
belong to it. Offense codes go to ICCS through the ``us-nibrs`` crosswalk. Property
segments are read but not yet mapped (vehicles, documents): they are counted only.

An incident whose segments cannot be read (a bad date, a wrong length, an offense
with no incident) is rejected with the field and ``API-104``; the record rules then
catch the rest (an unknown offense code, a homicide without a victim...).
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from atalaya.errors import FieldError, field_errors_from_pydantic
from atalaya.records.imports import SourceRecord
from atalaya.records.schema import IncidentIn

DATA_FILE = Path(__file__).parent / "data" / "nibrs.toml"
ADMINISTRATIVE, OFFENSE, PROPERTY, VICTIM, OFFENDER, ARRESTEE, GROUP_B = "1234567"
# Lengths the specification allows for each segment level.
LENGTHS = {
    ADMINISTRATIVE: {87, 88, 91},
    OFFENSE: {63, 71},
    PROPERTY: {307},
    VICTIM: {129, 141},
    OFFENDER: {45, 46},
    ARRESTEE: {110},
}


@cache
def _values() -> dict[str, dict[str, str]]:
    with DATA_FILE.open("rb") as f:
        return tomllib.load(f)


def _value(table: str, code: str) -> str:
    mapping = _values()[table]
    return mapping.get(code.strip(), mapping["otherwise"])


def field_at(line: str, first: int, last: int) -> str:
    """Return positions ``first``..``last`` (1-based, inclusive, as the specification
    numbers them), without surrounding blanks."""
    return line[first - 1 : last].strip()


@dataclass
class _Incident:
    where: str
    ori: str
    number: str
    admin: str
    segments: list[str] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)


def read_nibrs(path: Path) -> Iterator[SourceRecord]:
    """Yield one record (or its reading errors) per Group A incident report in ``path``."""
    current: _Incident | None = None
    with path.open(encoding="latin-1", newline="") as lines:
        for number, raw in enumerate(lines, 1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            level = line[4:5]
            if level == ADMINISTRATIVE:
                if current:
                    yield current.where, _incident(current)
                ori, incident_number = field_at(line, 17, 25), field_at(line, 26, 37)
                where = f"line {number}, incident {ori}-{incident_number}"
                current = _Incident(where, ori, incident_number, line)
                _check_length(current, line, level)
            elif level in LENGTHS and current and field_at(line, 26, 37) == current.number:
                _check_length(current, line, level)
                current.segments.append(line)
            elif level != GROUP_B:
                # A segment whose incident did not start with an administrative one.
                yield f"line {number}", [FieldError("segment", "API-104")]
    if current:
        yield current.where, _incident(current)


def _check_length(incident: _Incident, line: str, level: str) -> None:
    if len(line) not in LENGTHS[level]:
        incident.errors.append(FieldError(f"segment {level} length", "API-104"))


# An age is two digits and two blanks, a range of two two-digit ages, NN/NB/BB (under
# a week), 00 (unknown), or blank where it may be missing.
_AGE = re.compile(r"^(\d\d  |\d{4}|NN  |NB  |BB  |00  |    )$")


def _allowed(table: str, value: str, *, blank: bool = False) -> bool:
    return (blank and value == "") or value in _values()["allowed"][table]


def _value_errors(line: str) -> list[str]:
    """Return the names of the fields of a segment that hold values the specification
    does not allow (the checks that must pass before a segment can be mapped)."""
    level, bad = line[4], []
    if level == OFFENSE and not _allowed("attempted_completed", field_at(line, 41, 41)):
        bad.append("offense attempted/completed")
    if level == VICTIM:
        if not _allowed("type_of_victim", field_at(line, 71, 71)):
            bad.append("type of victim")
        if field_at(line, 71, 71) == "I":
            if not _AGE.match(line[71:75].ljust(4)) or not line[71:75].strip():
                bad.append("victim age")
            if not _allowed("sex_of_person", field_at(line, 76, 76)):
                bad.append("victim sex")
    if level == OFFENDER and not _AGE.match(line[39:43].ljust(4)):
        bad.append("offender age")
    if level == ARRESTEE:
        if _date(field_at(line, 52, 59)) is None:
            bad.append("arrest date")
        if not _allowed("type_of_arrest", field_at(line, 60, 60)):
            bad.append("type of arrest")
        for first in (65, 68):
            if not _allowed("arrestee_armed_with", field_at(line, first, first + 1), blank=True):
                bad.append("arrestee armed with")
        if not _AGE.match(line[70:74].ljust(4)) or not line[70:74].strip():
            bad.append("arrestee age")
        if not _allowed("sex_of_arrestee", field_at(line, 75, 75)):
            bad.append("arrestee sex")
    return bad


def _incident(incident: _Incident) -> IncidentIn | list[FieldError]:
    errors = list(incident.errors)
    for segment in incident.segments:
        errors += [FieldError(name, "API-104") for name in _value_errors(segment)]
    admin = incident.admin
    if admin[5:6] != "I":
        errors.append(FieldError("action type", "API-104"))
    occurred = _date(field_at(admin, 38, 45))
    if occurred is None:
        errors.append(FieldError("incident date", "REC-104"))
    if errors:
        return errors
    assert occurred is not None
    hour = field_at(admin, 47, 48)
    when = occurred.isoformat() + (
        f"T{int(hour):02d}:00" if hour.isdigit() and int(hour) < 24 else ""
    )
    body: dict[str, Any] = {
        "reference": f"{incident.ori}-{incident.number}",
        "occurred_from": when,
        "area": f"US-{incident.ori[:2]}",
        "offences": [_offence(s) for s in incident.segments if s[4] == OFFENSE],
        "persons": [_person(s) for s in incident.segments if s[4] in (VICTIM, OFFENDER, ARRESTEE)],
    }
    body["persons"] = [p for p in body["persons"] if p is not None]
    try:
        return IncidentIn.model_validate(body)
    except ValidationError as error:
        return field_errors_from_pydantic(error.errors())


def _offence(line: str) -> dict[str, Any]:
    weapon = field_at(line, 53, 54)
    return {
        "national_scheme": "us-nibrs",
        "national_code": field_at(line, 38, 40),
        "attempted": field_at(line, 41, 41) == "A",
        "weapon": _value("weapon", weapon) if weapon else None,
    }


def _person(line: str) -> dict[str, Any] | None:
    level = line[4]
    if level == VICTIM:
        if field_at(line, 71, 71) != "I":
            return None  # businesses, governments, society: not persons
        age, sex = field_at(line, 72, 75), field_at(line, 76, 76)
        role = "victim"
    elif level == OFFENDER:
        age, sex, role = field_at(line, 40, 43), field_at(line, 44, 44), "suspect"
    else:
        age, sex, role = field_at(line, 71, 74), field_at(line, 75, 75), "arrested"
    return {"role": role, "sex": _value("sex", sex), "age": _age(age)}


def _age(text: str) -> int | None:
    """Return an exact age in years: ``NN``/``NB``/``BB`` (under a week) are 0; ``00``
    (unknown) and ranges such as ``2530`` give ``None``."""
    if text in ("NN", "NB", "BB"):
        return 0
    return int(text) if text.isdigit() and len(text) <= 2 and text != "00" else None


def _date(text: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


def count_nibrs(path: Path) -> int:
    with path.open(encoding="latin-1") as lines:
        return sum(1 for line in lines if line[4:5] == ADMINISTRATIVE)
