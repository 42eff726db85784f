"""``unodc-cts``: UNODC's data portal export, all of a file or nothing, once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.db import Database
from atalaya.errors import DomainError
from atalaya.observatory.files import AreaIndex
from atalaya.observatory.imports import StatisticsFile
from atalaya.observatory.models import Observation, Series, Source
from atalaya.observatory.query import EVERYTHING, IndicatorQuery, IndicatorValue
from atalaya.observatory.service import indicator_values
from atalaya.observatory.unodc import read_unodc
from atalaya.settings import Settings
from observatory.samples import held, run_import, write_csv

VINTAGE = dt.date(2025, 6, 1)
HEADER = ["Iso3_code", "Country", "Region", "Subregion", "Indicator", "Dimension", "Category",
          "Sex", "Age", "Year", "Unit of measurement", "VALUE", "Source"]  # fmt: skip
VICTIMS = "Victims of intentional homicide"
PERSONS = "Persons arrested/suspected for intentional homicide"
COUNTS, RATE = "Counts", "Rate per 100,000 population"


def row(iso3: str, value: str, *, indicator: str = VICTIMS, dimension: str = "Total",
        category: str = "Total", sex: str = "Total", age: str = "Total", year: int = 2021,
        unit: str = COUNTS, source: str = "CTS") -> list[str]:  # fmt: skip
    return [iso3, "?", "Americas", "?", indicator, dimension, category, sex, age, str(year),
            unit, value, source]  # fmt: skip


ROWS = [
    row("MEX", "35700"),
    row("MEX", "31000", sex="Male"),
    row("MEX", "4700", sex="Female"),
    row("MEX", "28.1", unit=RATE),
    row("MEX", "24000", dimension="by mechanisms", category="Firearms or explosives - firearms"),
    row("ARG", "2100"),
    row("ARG", "4.6", unit=RATE),
    row("ARG", "15", sex="Female", age="15-17"),
    # Not imported, each counted: another dimension, a mechanism spanning several weapons,
    # an age group not ours, a rate of persons, a health-source line.
    row(
        "MEX",
        "1200",
        dimension="by relationship to perpetrator",
        category="Intimate partner or family member",
    ),
    row("MEX", "24500", dimension="by mechanisms", category="Firearms or explosives"),
    row("MEX", "900", age="0-9"),
    row("MEX", "9.0", indicator=PERSONS, unit=RATE),
    row("ARG", "2050", year=2020, source="WHO"),
    # Persons counts are imported.
    row("MEX", "11000", indicator=PERSONS),
]
OBSERVATIONS = 9


def unodc_file(tmp_path: Path, rows: list[list[str]] | None = None) -> Path:
    return write_csv(tmp_path / "unodc.csv", [HEADER, *(ROWS if rows is None else rows)], "utf-8")


def ask(session: Session, **filters: object) -> list[IndicatorValue]:
    return indicator_values(session, IndicatorQuery(**filters), EVERYTHING)  # type: ignore[arg-type]


def one(session: Session, **filters: object) -> IndicatorValue:
    (value,) = ask(session, **filters)
    return value


def test_it_imports_counts_rates_sexes_ages_and_mechanisms(
    tmp_path: Path, db: Database, session: Session
) -> None:
    report = run_import(db, unodc_file(tmp_path), "unodc-cts", VINTAGE)
    assert report.new_source and report.rows == len(ROWS)
    assert report.observations_added == OBSERVATIONS
    source = session.scalars(select(Source)).one()
    assert (source.publisher, source.vintage, source.source_type, source.format) == (
        "UNODC", VINTAGE, "police", "unodc-cts")  # fmt: skip
    stored = session.execute(
        select(Series.indicator, Series.area_code, Series.sex, Series.age_group, Series.weapon,
               Series.iccs_code, Series.national_scheme, Observation.period, Observation.value)
        .join(Series, Series.id == Observation.series_id)
    ).all()  # fmt: skip
    assert {tuple(s) for s in stored} == {
        ("victims", "MX", "_T", "_T", "_T", "0101", "", "2021", 35700),
        ("victims", "MX", "male", "_T", "_T", "0101", "", "2021", 31000),
        ("victims", "MX", "female", "_T", "_T", "0101", "", "2021", 4700),
        ("victims_per_100k_published", "MX", "_T", "_T", "_T", "0101", "", "2021", 28.1),
        ("victims", "MX", "_T", "_T", "firearm", "0101", "", "2021", 24000),
        ("victims", "AR", "_T", "_T", "_T", "0101", "", "2021", 2100),
        ("victims_per_100k_published", "AR", "_T", "_T", "_T", "0101", "", "2021", 4.6),
        ("victims", "AR", "female", "15-17", "_T", "0101", "", "2021", 15),
        ("persons_suspected", "MX", "_T", "_T", "_T", "0101", "", "2021", 11000),
    }


def test_lines_not_imported_are_counted_by_reason(tmp_path: Path, session: Session) -> None:
    found = read_unodc(unodc_file(tmp_path), AreaIndex(session), VINTAGE)
    assert isinstance(found, StatisticsFile) and not found.problems.found
    assert found.not_imported == {
        "Dimension: by relationship to perpetrator | Category: Intimate partner or family member": 1,
        "Dimension: by mechanisms | Category: Firearms or explosives": 1,
        "Age: 0-9": 1,
        f"Unit of measurement: {RATE} ({PERSONS})": 1,
        "Source: WHO": 1,
    }
    assert len(found.observations) + sum(found.not_imported.values()) == len(ROWS)


def test_a_file_of_health_sources_is_a_health_source(
    tmp_path: Path, db: Database, session: Session
) -> None:
    rows = [row("MEX", "36000", source="WHO"), row("ARG", "2000", source="PAHO")]
    assert run_import(db, unodc_file(tmp_path, rows), "unodc-cts", VINTAGE).observations_added == 2
    assert session.scalars(select(Source.source_type)).one() == "health"


def test_published_rates_are_kept_apart_from_computed_rates(
    tmp_path: Path, db: Database, session: Session
) -> None:
    run_import(db, unodc_file(tmp_path), "unodc-cts", VINTAGE)
    values = ask(session, iccs="0101", area="MX", period="2021")
    by_indicator = {v.key.indicator: v for v in values}
    assert set(by_indicator) == {"victims", "victims_per_100k_published", "persons_suspected"}
    published = by_indicator["victims_per_100k_published"]
    assert published.value == pytest.approx(28.1)
    assert published.rate_per_100k is None and published.population is None
    assert by_indicator["victims"].value == 35700
    assert by_indicator["victims"].rate_per_100k is None
    weapon = one(session, indicator="victims", iccs="0101", area="MX", period="2021",
                 weapon="firearm")  # fmt: skip
    assert weapon.value == 24000


def test_importing_the_same_edition_again_changes_nothing(
    tmp_path: Path, db: Database, session: Session
) -> None:
    path = unodc_file(tmp_path)
    run_import(db, path, "unodc-cts", VINTAGE)
    before = held(session)
    again = run_import(db, path, "unodc-cts", VINTAGE)
    assert not again.new_source and not again.changed
    assert (again.observations_added, again.observations_unchanged) == (0, OBSERVATIONS)
    assert held(session) == before


def test_a_vintage_is_required(tmp_path: Path, db: Database, session: Session) -> None:
    with pytest.raises(DomainError) as raised:
        run_import(db, unodc_file(tmp_path), "unodc-cts")
    assert raised.value.code == "OBS-113"
    assert held(session) == (0, 0, 0, 0)


GOOD = ROWS[0]
BAD_ROWS = {
    "unknown country": ([row("FRA", "800")], "OBS-105", "Iso3_code"),
    "negative count": ([row("ARG", "-3")], "OBS-106", "VALUE"),
    "fractional count": ([row("ARG", "3.5")], "OBS-107", "VALUE"),
    "negative rate": ([row("ARG", "-1.5", unit=RATE)], "OBS-109", "VALUE"),
    "duplicate row": ([GOOD], "OBS-104", "row"),
    "unknown indicator": (
        [row("ARG", "10", indicator="Persons convicted for intentional homicide")],
        "OBS-108",
        "Indicator",
    ),
    "unknown sex": ([row("ARG", "10", sex="Unknown")], "OBS-109", "Sex"),
    "unknown unit": ([row("ARG", "10", unit="Percent")], "OBS-109", "Unit of measurement"),
    "bad year": ([row("ARG", "10", year=20000)], "OBS-109", "Year"),
    "short row": ([GOOD[:5]], "OBS-111", "row"),
}


@pytest.mark.parametrize("rows, code, field", BAD_ROWS.values(), ids=BAD_ROWS)
def test_a_bad_row_stops_the_whole_import(
    tmp_path: Path,
    db: Database,
    session: Session,
    rows: list[list[str]],
    code: str,
    field: str,
) -> None:
    with pytest.raises(DomainError) as raised:
        run_import(db, unodc_file(tmp_path, [GOOD, *rows]), "unodc-cts", VINTAGE)
    assert raised.value.code == "OBS-110"
    assert [(e.code, e.field, e.params["line"]) for e in raised.value.errors] == [(code, field, 3)]
    assert held(session) == (0, 0, 0, 0)


def test_another_format_is_refused(tmp_path: Path, db: Database, session: Session) -> None:
    path = write_csv(tmp_path / "other.csv", [["a", "b"], ["1", "2"]], "utf-8")
    with pytest.raises(DomainError) as raised:
        run_import(db, path, "unodc-cts", VINTAGE)
    assert raised.value.code == "OBS-103"


def test_the_command_reports_the_lines_not_imported(cli_env: Settings, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from atalaya.cli import app as cli

    result = CliRunner().invoke(
        cli,
        ["stats", "import", str(unodc_file(tmp_path)), "--format", "unodc-cts",
         "--vintage", "2024-01-01"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "not imported: Age: 0-9 (1 lines)" in result.output
    assert "not imported: Source: WHO (1 lines)" in result.output
