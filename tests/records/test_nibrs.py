"""The NIBRS flat file: segments read by position, mapped through the crosswalk, and
incidents with values the specification does not allow rejected with the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from atalaya.records.imports import import_records
from atalaya.records.nibrs import read_nibrs
from atalaya.records.schema import IncidentIn
from conftest import TEST_CONTEXT

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "nibrs"
HEAD = "I012016    MNBCA0000"


def segment(level: str, incident: str, body: str, length: int) -> str:
    """A segment line: its length, level, the common header, then ``body`` from 38 on."""
    line = f"{length:04d}{level}{HEAD}{incident:<12}{body}"
    return line.ljust(length)[:length]


def incident_lines(number: str, offence: str = "09A", victim_age: str = "34  ",
                   offender_age: str = "25  ") -> list[str]:  # fmt: skip
    return [
        segment("1", number, "20150412 22N", 88),
        segment("2", number, f"{offence}C   20" + " " * 6 + "11 ", 71),
        segment("4", number, "001" + offence.ljust(30) + f"I{victim_age}MWNR", 129),
        segment("5", number, f"01{offender_age}MW", 46),
    ]


def write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "nibrs.txt"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="latin-1")
    return path


def test_an_incident_is_read_by_position_and_mapped_to_iccs(tmp_path: Path) -> None:
    [(_, record)] = list(read_nibrs(write(tmp_path, incident_lines("INC-1"))))
    assert isinstance(record, IncidentIn), record
    assert (record.reference, record.occurred_from, record.area) == (
        "MNBCA0000-INC-1",
        "2015-04-12T22:00",
        "US-MN",
    )
    offence = record.offences[0]
    assert (offence.national_scheme, offence.national_code, offence.attempted, offence.weapon) == (
        "us-nibrs",
        "09A",
        False,
        "firearm",
    )
    assert [(p.role, p.sex, p.age) for p in record.persons] == [
        ("victim", "male", 34),
        ("suspect", "male", 25),
    ]


def test_a_value_the_specification_does_not_allow_rejects_the_incident(tmp_path: Path) -> None:
    lines = incident_lines("INC-2", offender_age="7   ") + incident_lines(
        "INC-3", victim_age="8   "
    )
    results = dict(read_nibrs(write(tmp_path, lines)))
    codes = {
        where.split(", ")[1]: [(e.field, e.code) for e in errors]
        for where, errors in results.items()
    }
    assert codes == {"incident MNBCA0000-INC-2": [("offender age", "API-104")],
                     "incident MNBCA0000-INC-3": [("victim age", "API-104")]}  # fmt: skip


def test_a_segment_of_the_wrong_length_is_reported(tmp_path: Path) -> None:
    lines = incident_lines("INC-4")
    lines[1] = lines[1][:60]
    [(_, errors)] = list(read_nibrs(write(tmp_path, lines)))
    assert errors == [e for e in errors if e.code == "API-104"] and errors


def test_a_justifiable_homicide_has_no_iccs_code_and_is_reported(
    tmp_path: Path, db, session: Session
) -> None:  # type: ignore[no-untyped-def]
    from records.test_imports import juarez_officer

    path = write(tmp_path, incident_lines("INC-5", offence="09C"))
    officer = juarez_officer(session)
    # Juárez police cannot record in Minnesota: the rules run before jurisdiction, so the
    # unmapped code is what the report names.
    report = import_records(db.sessions, officer, TEST_CONTEXT, read_nibrs(path))
    assert [(e.code, e.field) for r in report.rejected for e in r.errors][:1] == [
        ("REC-116", "offences.0.iccs")
    ]


def fbi_rejected_value_errors() -> set[str]:
    """Incidents the FBI's own error data set rejects for invalid victim, offender or
    arrestee values: the ones Atalaya checks, read from the FBI's file, not copied."""
    submission = (SHARED / "Test-Submission-1.txt").read_text(encoding="latin-1").splitlines()
    numbers = {line[25:37].strip() for line in submission if line[4:5] == "1"}
    expected = set()
    for line in (SHARED / "Test-EDS-1.txt").read_text(encoding="latin-1").splitlines():
        if re.search(r"INVALID DATA VALUE|AGE MUST BE NUMERIC", line):
            found = [n for n in numbers if n and n in line]
            expected.update(max(found, key=len) for _ in [0] if found)
    return expected


@pytest.mark.skipif(not (SHARED / "Test-EDS-1.txt").exists(), reason="needs ../shared/data")
def test_the_fbi_test_submission_is_rejected_where_the_fbi_rejects_its_values() -> None:
    expected = fbi_rejected_value_errors()
    assert len(expected) >= 10
    rejected = {where.split("incident ")[1].split("-", 1)[1]
                for where, record in read_nibrs(SHARED / "Test-Submission-1.txt")
                if not isinstance(record, IncidentIn)}  # fmt: skip
    assert expected <= rejected
