"""``co-policia-homicidios`` (victims from the National Police's homicide spreadsheet,
added up by municipality, month, sex, age group and weapon) and ``dane-population``
(DANE's municipal populations), all of a file or nothing, once; and the real files
against their raw figures (skipped when ../shared/data/co-policia is absent)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlrd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atalaya.db import Database
from atalaya.errors import DomainError
from atalaya.observatory import colombia
from atalaya.observatory.models import Observation, Population, Series, Source
from atalaya.observatory.query import EVERYTHING, IndicatorQuery, IndicatorValue
from atalaya.observatory.service import indicator_values
from observatory.samples import SHARED, held, run_import

VINTAGE = dt.date(2023, 3, 1)
POLICE = "co-policia-homicidios"
DANE = "dane-population"


def police_row(
    line: int,
    dane: str,
    date: str | float,
    count: float = 1.0,
    sex: str = "MASCULINO",
    age: str = "ADULTOS",
    weapon: str = "ARMA DE FUEGO",
) -> dict[str, Any]:
    """A data row as the records reader returns it (dates as in the sheet)."""
    return {
        "ARMAS MEDIOS": weapon,
        "DEPARTAMENTO": "?",
        "MUNICIPIO": "?",
        "FECHA HECHO": date,
        "GENERO": sex,
        "AGRUPA EDAD PERSONA": age,
        "CODIGO DANE": dane,
        "CANTIDAD": count,
        "_row": line,
    }


# What the sample holds, 2021: Medellín (05001), January, 2 + 1 men, adults, firearm
# (44219 is 22 January 2021 as the sheet stores it); December, 1 man, blunt object;
# Bogotá (11001, department 11), March, 1 adolescent girl, knife.
ROWS = [
    police_row(11, "05001000", 44219.0, 2.0),
    police_row(12, "05001000", "30/01/2021"),
    police_row(13, "05001000", "05/12/2021", weapon="CONTUNDENTES"),
    police_row(14, "11001000", "10/03/2021", 1.0, "FEMENINO", "ADOLESCENTES",
               "ARMA BLANCA / CORTOPUNZANTE"),
]  # fmt: skip


@pytest.fixture
def police_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Return a function writing a stand-in .xls whose rows the records reader returns."""

    def write(rows: list[dict[str, Any]] | None = None) -> Path:
        given = ROWS if rows is None else rows
        monkeypatch.setattr(colombia, "_police_rows", lambda path: (given, 0))
        path = tmp_path / "homicidios.xls"
        path.write_bytes(b"")
        return path

    return write


def ask(session: Session, **filters: object) -> list[IndicatorValue]:
    return indicator_values(session, IndicatorQuery(**filters), EVERYTHING)  # type: ignore[arg-type]


def one(session: Session, **filters: object) -> IndicatorValue:
    (value,) = ask(session, **filters)
    return value


def test_victims_are_added_up_by_municipality_month_sex_age_and_weapon(
    police_file: Any, db: Database, session: Session
) -> None:
    report = run_import(db, police_file(), POLICE, VINTAGE)
    assert report.new_source and report.rows == 4
    # Three series (the two January rows are one), each with its twelve months.
    assert (report.series_added, report.observations_added) == (3, 36)
    source = session.scalars(select(Source)).one()
    assert (source.publisher, source.vintage, source.source_type, source.format) == (
        "Policía Nacional de Colombia (DIJIN)",
        VINTAGE,
        "police",
        POLICE,
    )
    series = session.scalars(select(Series)).all()
    assert {
        (s.area_code, s.area_path, s.iccs_code, s.national_scheme, s.national_code, s.sex,
         s.age_group, s.weapon) for s in series
    } == {
        ("CO-05-001", "/CO/CO-ANT/CO-05-001/", "0101", POLICE, "homicidio", "male", "18+",
         "firearm"),
        ("CO-05-001", "/CO/CO-ANT/CO-05-001/", "0101", POLICE, "homicidio", "male", "18+",
         "blunt_object"),
        ("CO-11-001", "/CO/CO-DC/CO-11-001/", "0101", POLICE, "homicidio", "female", "13-17",
         "sharp_object"),
    }  # fmt: skip
    assert not any(s.published for s in series)
    # No totals are stored: queries add up the breakdowns.
    assert session.scalar(select(func.count()).where(Series.sex == "_T")) == 0
    assert one(session, indicator="victims", iccs="0101", area="CO", period="2021").value == 5
    assert one(session, indicator="victims", iccs="01", area="CO-DC", period="2021").value == 1
    assert one(session, indicator="victims", area="CO-ANT", period="2021-01").value == 3
    assert one(session, indicator="victims", area="CO-ANT", period="2021-02").value == 0
    by_sex = {v.key.sex: v.value for v in ask(session, area="CO", period="2021", by=["sex"])}
    assert by_sex == {"male": 4, "female": 1}
    weapons = ask(session, area="CO-05-001", period="2021", by=["weapon"])
    assert {v.key.weapon: v.value for v in weapons} == {"firearm": 3, "blunt_object": 1}


def test_a_year_the_file_does_not_cover_whole_is_not_available(
    police_file: Any, db: Database, session: Session
) -> None:
    run_import(db, police_file([police_row(11, "05001000", "03/05/2022")]), POLICE, VINTAGE)
    assert session.scalar(select(func.count()).select_from(Observation)) == 5
    assert one(session, area="CO", period="2022-Q1").value == 0
    assert one(session, area="CO", period="2022").value is None


def test_importing_the_same_edition_again_changes_nothing(
    police_file: Any, db: Database, session: Session
) -> None:
    run_import(db, police_file(), POLICE, VINTAGE)
    before = held(session)
    again = run_import(db, police_file(), POLICE, VINTAGE)
    assert not again.new_source and not again.changed
    assert (again.observations_added, again.observations_unchanged) == (0, 36)
    assert held(session) == before


def test_the_same_edition_with_another_count_is_refused(
    police_file: Any, db: Database, session: Session
) -> None:
    run_import(db, police_file(), POLICE, VINTAGE)
    with pytest.raises(DomainError) as raised:
        run_import(db, police_file([police_row(11, "05001000", 44219.0, 7.0)]), POLICE, VINTAGE)
    assert raised.value.code == "OBS-110"
    assert {e.code for e in raised.value.errors} == {"OBS-112"}


BAD_POLICE_ROWS = {
    "unknown DANE code": (police_row(12, "99999000", "01/01/2021"), "OBS-105", "CODIGO DANE"),
    "negative count": (police_row(12, "05001000", "01/01/2021", -1.0), "OBS-106", "CANTIDAD"),
    "fractional count": (police_row(12, "05001000", "01/01/2021", 1.5), "OBS-107", "CANTIDAD"),
    "bad date": (police_row(12, "05001000", "2021-13-01"), "OBS-109", "FECHA HECHO"),
}


@pytest.mark.parametrize("bad, code, field", BAD_POLICE_ROWS.values(), ids=BAD_POLICE_ROWS)
def test_a_bad_police_row_stops_the_whole_import(
    police_file: Any,
    db: Database,
    session: Session,
    bad: dict[str, Any],
    code: str,
    field: str,
) -> None:
    with pytest.raises(DomainError) as raised:
        run_import(db, police_file([ROWS[0], bad]), POLICE, VINTAGE)
    assert raised.value.code == "OBS-110"
    assert [(e.code, e.field, e.params["line"]) for e in raised.value.errors] == [(code, field, 12)]
    assert held(session) == (0, 0, 0, 0)


def test_another_file_or_no_vintage_is_refused(
    tmp_path: Path, db: Database, session: Session
) -> None:
    text = tmp_path / "not-a-sheet.xls"
    text.write_text("ARMAS MEDIOS,FECHA HECHO\n", encoding="utf-8")
    with pytest.raises(DomainError) as raised:
        run_import(db, text, POLICE)
    assert raised.value.code == "OBS-113"
    with pytest.raises(DomainError) as raised:
        run_import(db, text, POLICE, VINTAGE)
    assert raised.value.code == "OBS-103"
    with pytest.raises(DomainError) as raised:
        run_import(db, write_population(tmp_path), POLICE, VINTAGE)
    assert raised.value.code == "OBS-103"
    assert held(session) == (0, 0, 0, 0)


# DANE populations.

POPULATION_HEADER = ("departamento_code", "departamento", "municipio_code", "municipio", "year",
                     "poblacion")  # fmt: skip
POPULATION_ROWS: list[tuple[Any, ...]] = [
    ("05", "Antioquia", "05001", "Medellín", 2021, 2_000_000),
    ("05", "Antioquia", "05001", "Medellín", 2022, 2_010_000),
    ("11", "Bogotá, D.C.", "11001", "Bogotá, D.C.", 2021, 7_000_000),
]


def write_population(
    tmp_path: Path, rows: list[tuple[Any, ...]] | None = None, header: tuple[str, ...] | None = None
) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header or POPULATION_HEADER)
    for row in POPULATION_ROWS if rows is None else rows:
        sheet.append(row)
    sheet.append((None,) * 6)  # the blank rows at the end of DANE's sheet
    path = tmp_path / "poblacion.xlsx"
    book.save(path)
    return path


def test_it_imports_municipal_populations_and_rates_use_them(
    tmp_path: Path, police_file: Any, db: Database, session: Session
) -> None:
    report = run_import(db, write_population(tmp_path), DANE, VINTAGE)
    assert (report.rows, report.populations_added) == (3, 3)
    source = session.scalars(select(Source)).one()
    assert (source.publisher, source.source_type, source.format) == ("DANE", "demographic", DANE)
    stored = session.execute(
        select(
            Population.area_code,
            Population.year,
            Population.sex,
            Population.age_group,
            Population.value,
        )
    ).all()
    assert set(stored) == {
        ("CO-05-001", 2021, "_T", "_T", 2_000_000),
        ("CO-05-001", 2022, "_T", "_T", 2_010_000),
        ("CO-11-001", 2021, "_T", "_T", 7_000_000),
    }
    run_import(db, police_file(), POLICE, VINTAGE)
    medellin = one(session, indicator="victims", area="CO-05-001", period="2021")
    assert medellin.value == 4 and medellin.rate_per_100k == pytest.approx(0.2)
    again = run_import(db, write_population(tmp_path), DANE, VINTAGE)
    assert (again.populations_added, again.populations_unchanged) == (0, 3)


BAD_POPULATION_ROWS = {
    "unknown DANE code": (("99", "?", "99999", "?", 2021, 10), "OBS-105", "municipio_code"),
    "negative count": (("05", "?", "05002", "?", 2021, -10), "OBS-106", "poblacion"),
    "bad year": (("05", "?", "05002", "?", "dos mil", 10), "OBS-109", "year"),
    "repeated row": (POPULATION_ROWS[0], "OBS-104", "row"),
}


@pytest.mark.parametrize("bad, code, field", BAD_POPULATION_ROWS.values(), ids=BAD_POPULATION_ROWS)
def test_a_bad_population_row_stops_the_whole_import(
    tmp_path: Path, db: Database, session: Session, bad: tuple[Any, ...], code: str, field: str
) -> None:
    with pytest.raises(DomainError) as raised:
        run_import(db, write_population(tmp_path, [POPULATION_ROWS[0], bad]), DANE, VINTAGE)
    assert raised.value.code == "OBS-110"
    assert [(e.code, e.field, e.params["line"]) for e in raised.value.errors] == [(code, field, 3)]
    assert held(session) == (0, 0, 0, 0)


def test_another_population_file_or_no_vintage_is_refused(
    tmp_path: Path, db: Database, session: Session
) -> None:
    with pytest.raises(DomainError) as raised:
        run_import(db, write_population(tmp_path), DANE)
    assert raised.value.code == "OBS-113"
    other = write_population(tmp_path, [], ("n_year", "cve_ent", "genero", "pob_mid_year"))
    with pytest.raises(DomainError) as raised:
        run_import(db, other, DANE, VINTAGE)
    assert raised.value.code == "OBS-103" and "poblacion" in str(raised.value.params["columns"])
    text = tmp_path / "poblacion.csv"
    text.write_text(",".join(POPULATION_HEADER) + "\n", encoding="utf-8")
    with pytest.raises(DomainError) as raised:
        run_import(db, text, DANE, VINTAGE)
    assert raised.value.code == "OBS-103"
    assert held(session) == (0, 0, 0, 0)


# The real files.

HOMICIDES_2021 = SHARED / "co-policia" / "homicidios_2021.xls"
POPULATION = SHARED / "co-policia" / "poblacion_2018_2023.xlsx"


def raw_victims_by_department(path: Path) -> dict[str, int]:
    """Victims per DANE department code, read with xlrd alone: the rows between the header
    (first cell ARMAS MEDIOS) and the TOTAL row."""
    sheet = xlrd.open_workbook(str(path)).sheet_by_index(0)
    rows = [sheet.row_values(r) for r in range(sheet.nrows)]
    start = next(i for i, row in enumerate(rows) if str(row[0]).strip() == "ARMAS MEDIOS")
    header = [str(name).strip() for name in rows[start]]
    code, count = header.index("CODIGO DANE"), header.index("CANTIDAD")
    totals: dict[str, int] = {}
    for row in rows[start + 1 :]:
        if str(row[0]).strip().upper().startswith("TOTAL") or not str(row[code]).strip():
            break
        department = str(row[code]).strip()[:2]
        totals[department] = totals.get(department, 0) + int(row[count])
    return totals


@pytest.mark.skipif(not HOMICIDES_2021.exists(), reason="../shared/data/co-policia is not here")
def test_the_real_files_match_their_raw_figures(db: Database, session: Session) -> None:
    raw = raw_victims_by_department(HOMICIDES_2021)
    assert sum(raw.values()) == 13_874
    report = run_import(db, HOMICIDES_2021, POLICE, VINTAGE)
    assert report.rows == 11_528
    assert one(session, indicator="victims", iccs="0101", area="CO", period="2021").value == 13_874
    antioquia = one(session, indicator="victims", iccs="0101", area="CO-ANT", period="2021")
    assert antioquia.value == raw["05"]
    bogota = one(session, indicator="victims", iccs="0101", area="CO-DC", period="2021")
    assert bogota.value == raw["11"]

    sheet = openpyxl.load_workbook(POPULATION, read_only=True).worksheets[0]
    medellin_2021 = next(
        row[5]
        for row in sheet.iter_rows(min_row=2, values_only=True)
        if row[2] == "05001" and row[4] == 2021
    )
    report = run_import(db, POPULATION, DANE, VINTAGE)
    assert report.populations_added == report.rows
    stored = session.scalar(
        select(Population.value).where(Population.area_code == "CO-05-001", Population.year == 2021)
    )
    assert stored == medellin_2021 == 2_549_008
    medellin = one(session, indicator="victims", iccs="0101", area="CO-05-001", period="2021")
    assert medellin.population is not None and medellin.population.value == medellin_2021
    assert medellin.rate_per_100k == round(medellin.value * 100_000 / medellin_2021, 4)
