"""``snic-provincias``: Argentina's SNIC offences, victims by sex and published rates by
province and year, all of a file or nothing, once; and the real file against its raw
figures (skipped when ../shared/data/ar-snic is absent)."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.db import Database
from atalaya.errors import DomainError
from atalaya.observatory.models import Observation, Series, Source
from atalaya.observatory.query import EVERYTHING, IndicatorQuery, IndicatorValue
from atalaya.observatory.service import indicator_values
from observatory.samples import SHARED, held, run_import, write_csv

VINTAGE = dt.date(2024, 6, 1)
HEADER = ["provincia_id", "provincia_nombre", "anio", "codigo_delito_snic_id",
          "codigo_delito_snic_nombre", "cantidad_hechos", "cantidad_victimas",
          "cantidad_victimas_masc", "cantidad_victimas_fem", "cantidad_victimas_sd",
          "tasa_hechos", "tasa_victimas", "tasa_victimas_masc", "tasa_victimas_fem"]  # fmt: skip
NAMES = {"02": "Ciudad Autónoma de Buenos Aires", "14": "Córdoba", "99": "?"}


def row(province: str, year: int, code: str, *values: str) -> list[str]:
    return [province, NAMES.get(province, "?"), str(year), code, f"Delito {code}", *values]


# What the sample holds: CABA 2000, homicides (code 1): 149 offences, 158 victims (121 men,
# 37 women); code 4, 35 offences, 36 victims of which 3 of unknown sex, a rate with a
# leading dot; code 19 (theft), no victims (blank); code 8 has no ICCS code. Córdoba 2000,
# homicides: 90 offences.
ROWS = [
    row("02", 2000, "1", "149", "158", "121", "37", "0",
        "4.9750013", "5.2755051", "8.8257008", "2.2783601"),
    row("02", 2000, "4", "35", "36", "20", "13", "3", "1.1686245", "1.2020137", "1.4587934",
        ".80050492"),
    row("02", 2000, "19", "5000", "", "", "", "", "166.9", "", "", ""),
    row("02", 2000, "8", "12", "12", "6", "6", "0", ".4", ".4", ".4", ".4"),
    row("14", 2000, "1", "90", "95", "80", "15", "0", "2.9", "3.1", "5.2", ".9"),
]  # fmt: skip
OBSERVATIONS = 4 * (5 + 4) + 2  # full rows: 5 counts, 4 rates; theft: offences and its rate


def snic_file(tmp_path: Path, rows: list[list[str]] | None = None) -> Path:
    return write_csv(tmp_path / "snic.csv", [HEADER, *(ROWS if rows is None else rows)], "utf-8")


def ask(session: Session, **filters: object) -> list[IndicatorValue]:
    return indicator_values(session, IndicatorQuery(**filters), EVERYTHING)  # type: ignore[arg-type]


def one(session: Session, **filters: object) -> IndicatorValue:
    (value,) = ask(session, **filters)
    return value


def test_it_imports_offences_victims_by_sex_and_published_rates(
    tmp_path: Path, db: Database, session: Session
) -> None:
    report = run_import(db, snic_file(tmp_path), "snic-provincias", VINTAGE)
    assert report.new_source and report.rows == len(ROWS)
    assert report.observations_added == OBSERVATIONS
    # Theft's 4 victim counts and 3 victim rates are blank: not stored, counted.
    assert report.blank_cells == 7
    assert report.without_iccs == {"8": 1}
    source = session.scalars(select(Source)).one()
    assert (source.publisher, source.vintage, source.source_type, source.format) == (
        "Ministerio de Seguridad de la Nación",
        VINTAGE,
        "police",
        "snic-provincias",
    )
    stored = dict(
        session.execute(
            select(Series.sex, Observation.value)
            .join(Series, Series.id == Observation.series_id)
            .where(Series.indicator == "victims", Series.national_code == "4")
            .where(Series.area_code == "AR-C", Observation.period == "2000")
        ).all()
    )
    assert stored == {"_T": 36, "male": 20, "female": 13, "unknown": 3}
    homicide = session.scalars(
        select(Series).where(Series.indicator == "offences", Series.national_code == "1")
    ).all()
    assert {(s.area_code, s.area_path, s.iccs_code, s.national_scheme) for s in homicide} == {
        ("AR-C", "/AR/AR-C/", "0101", "ar-snic"),
        ("AR-X", "/AR/AR-X/", "0101", "ar-snic"),
    }
    assert not any(s.published for s in homicide)


def test_blank_victims_are_not_available_never_zero(
    tmp_path: Path, db: Database, session: Session
) -> None:
    run_import(db, snic_file(tmp_path), "snic-provincias", VINTAGE)
    assert ask(session, indicator="victims", iccs="0502", area="AR-C", period="2000") == []
    theft = one(session, indicator="offences", iccs="0502", area="AR-C", period="2000")
    assert theft.value == 5000


def test_rates_with_a_leading_dot_are_read(tmp_path: Path, db: Database, session: Session) -> None:
    run_import(db, snic_file(tmp_path), "snic-provincias", VINTAGE)
    rate = one(session, indicator="victims_per_100k_published",
               national_category="ar-snic:4", area="AR-C", period="2000", sex="female")  # fmt: skip
    assert rate.value == pytest.approx(0.80050492)


def test_published_rates_are_kept_apart_from_computed_rates(
    tmp_path: Path, db: Database, session: Session
) -> None:
    run_import(db, snic_file(tmp_path), "snic-provincias", VINTAGE)
    values = ask(session, iccs="0101", area="AR-C", period="2000")
    by_indicator = {v.key.indicator: v for v in values}
    assert set(by_indicator) == {"offences", "victims", "offences_per_100k_published",
                                 "victims_per_100k_published"}  # fmt: skip
    assert by_indicator["offences"].value == 149 and by_indicator["victims"].value == 158
    published = by_indicator["offences_per_100k_published"]
    # SNIC's rate of offences, as published; Atalaya computes none on it.
    assert published.value == pytest.approx(4.9750013)
    assert published.rate_per_100k is None and published.population is None
    # Counts get no rate from SNIC's: without a population, none is computed.
    assert by_indicator["offences"].rate_per_100k is None
    assert by_indicator["offences"].population is None
    # Published rates are never added up: Argentina is two provinces.
    national = one(session, indicator="offences_per_100k_published", iccs="0101", area="AR",
                   period="2000")  # fmt: skip
    assert national.value is None and national.status == "not_available"
    assert one(session, indicator="offences", iccs="0101", area="AR", period="2000").value == 239


def test_the_rates_of_offences_and_of_victims_are_two_indicators(
    tmp_path: Path, db: Database, session: Session
) -> None:
    run_import(db, snic_file(tmp_path), "snic-provincias", VINTAGE)
    offences = one(session, indicator="offences_per_100k_published", iccs="0101", area="AR-X",
                   period="2000")  # fmt: skip
    victims = one(session, indicator="victims_per_100k_published", iccs="0101", area="AR-X",
                  period="2000")  # fmt: skip
    assert (offences.value, victims.value) == (pytest.approx(2.9), pytest.approx(3.1))


def test_victims_of_unknown_sex_add_up_to_the_total_with_the_others(
    tmp_path: Path, db: Database, session: Session
) -> None:
    run_import(db, snic_file(tmp_path), "snic-provincias", VINTAGE)
    values = ask(session, indicator="victims", national_category="ar-snic:4", area="AR-C",
                 period="2000", by=("sex",))  # fmt: skip
    by_sex = {v.key.sex: v.value for v in values}
    assert by_sex == {"_T": 36, "male": 20, "female": 13, "unknown": 3}
    assert by_sex["male"] + by_sex["female"] + by_sex["unknown"] == by_sex["_T"]  # type: ignore[operator]


def test_importing_the_same_edition_again_changes_nothing(
    tmp_path: Path, db: Database, session: Session
) -> None:
    path = snic_file(tmp_path)
    run_import(db, path, "snic-provincias", VINTAGE)
    before = held(session)
    again = run_import(db, path, "snic-provincias", VINTAGE)
    assert not again.new_source and not again.changed
    assert (again.observations_added, again.observations_unchanged) == (0, OBSERVATIONS)
    assert held(session) == before


def test_the_same_edition_with_another_rate_is_refused(
    tmp_path: Path, db: Database, session: Session
) -> None:
    run_import(db, snic_file(tmp_path), "snic-provincias", VINTAGE)
    before = held(session)
    changed = [[*ROWS[0][:10], "4.98", *ROWS[0][11:]], *ROWS[1:]]
    with pytest.raises(DomainError) as raised:
        run_import(db, snic_file(tmp_path, changed), "snic-provincias", VINTAGE)
    assert [(e.code, e.params["line"]) for e in raised.value.errors] == [("OBS-112", 2)]
    assert held(session) == before


def test_a_vintage_is_required(tmp_path: Path, db: Database, session: Session) -> None:
    with pytest.raises(DomainError) as raised:
        run_import(db, snic_file(tmp_path), "snic-provincias")
    assert raised.value.code == "OBS-113"
    assert held(session) == (0, 0, 0, 0)


GOOD = ROWS[0]
BAD_ROWS = {
    "unknown province": ([row("99", 2000, "1", *GOOD[5:])], "OBS-105", "provincia_id"),
    "negative count": ([row("14", 2000, "1", "-3", *GOOD[6:])], "OBS-106", "cantidad_hechos"),
    "fractional count": ([row("14", 2000, "1", "3.5", *GOOD[6:])], "OBS-107", "cantidad_hechos"),
    "duplicate row": ([GOOD], "OBS-104", "row"),
    "unknown SNIC code": ([row("14", 2000, "99", *GOOD[5:])], "OBS-108",
                          "codigo_delito_snic_id"),
    "bad rate": ([row("14", 2000, "1", *GOOD[5:10], "n/d", *GOOD[11:])], "OBS-109",
                 "tasa_hechos"),
    "negative rate": ([row("14", 2000, "1", *GOOD[5:10], "-1.5", *GOOD[11:])], "OBS-109",
                      "tasa_hechos"),
    "bad year": ([row("14", 20000, "1", *GOOD[5:])], "OBS-109", "anio"),
    "short row": ([GOOD[:5]], "OBS-111", "row"),
}  # fmt: skip


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
        run_import(db, snic_file(tmp_path, [GOOD, *rows]), "snic-provincias", VINTAGE)
    assert raised.value.code == "OBS-110"
    assert [(e.code, e.field, e.params["line"]) for e in raised.value.errors] == [(code, field, 3)]
    assert held(session) == (0, 0, 0, 0)


def test_every_problem_is_listed(tmp_path: Path, db: Database, session: Session) -> None:
    rows = [
        GOOD,
        row("99", 2000, "1", "-3", *GOOD[6:10], ".5", *GOOD[11:]),
        GOOD,
    ]
    with pytest.raises(DomainError) as raised:
        run_import(db, snic_file(tmp_path, rows), "snic-provincias", VINTAGE)
    assert [(e.code, e.params["line"]) for e in raised.value.errors] == [
        ("OBS-105", 3),
        ("OBS-106", 3),
        ("OBS-104", 4),
    ]


def test_another_format_or_encoding_is_refused(
    tmp_path: Path, db: Database, session: Session
) -> None:
    with pytest.raises(DomainError) as raised:
        run_import(db, write_csv(tmp_path / "x.csv", [HEADER[:5]], "utf-8"), "snic-provincias",
                   VINTAGE)  # fmt: skip
    assert raised.value.code == "OBS-103" and "cantidad_hechos" in str(
        raised.value.params["columns"]
    )
    with pytest.raises(DomainError) as raised:
        run_import(db, write_csv(tmp_path / "y.csv", [HEADER, *ROWS], "latin-1"),
                   "snic-provincias", VINTAGE)  # fmt: skip
    assert raised.value.code == "OBS-102"


# The real file.

SNIC = SHARED / "ar-snic" / "snic-provincias.csv"
AREAS = Path(__file__).resolve().parents[2] / "src/atalaya/geo/data/areas.csv"


def indec_areas() -> dict[str, str]:
    with AREAS.open(encoding="utf-8", newline="") as f:
        lines = csv.DictReader(line for line in f if not line.startswith("#"))
        return {
            code.removeprefix("INDEC:"): area["code"]
            for area in lines
            for code in area["national_codes"].split()
            if code.startswith("INDEC:")
        }


def raw_figures() -> dict[str, dict[tuple[str, str], int]]:
    """Offences and victims (total and by sex) per province (ISO area) and year, added up
    straight from the raw file with the csv module; blank cells are left out."""
    indec = indec_areas()
    columns = {
        "offences": "cantidad_hechos",
        "victims": "cantidad_victimas",
        "male": "cantidad_victimas_masc",
        "female": "cantidad_victimas_fem",
        "unknown": "cantidad_victimas_sd",
    }
    sums: dict[str, dict[tuple[str, str], int]] = {name: defaultdict(int) for name in columns}
    with SNIC.open(encoding="utf-8", newline="") as f:
        for raw in csv.DictReader(f):
            key = (indec[raw["provincia_id"]], raw["anio"])
            for name, column in columns.items():
                if raw[column].strip():
                    sums[name][key] += int(raw[column])
    return sums


def raw_rates() -> dict[tuple[str, str, str, str, str], float]:
    """Every published rate of the raw file: (indicator, area, national category, sex,
    year) -> rate."""
    indec = indec_areas()
    offences, victims = "offences_per_100k_published", "victims_per_100k_published"
    columns = {"tasa_hechos": (offences, "_T"), "tasa_victimas": (victims, "_T"),
               "tasa_victimas_masc": (victims, "male"),
               "tasa_victimas_fem": (victims, "female")}  # fmt: skip
    rates = {}
    with SNIC.open(encoding="utf-8", newline="") as f:
        for raw in csv.DictReader(f):
            for column, (indicator, sex) in columns.items():
                if raw[column].strip():
                    key = (indicator, indec[raw["provincia_id"]], raw["codigo_delito_snic_id"])
                    rates[(*key, sex, raw["anio"])] = float(raw[column])
    return rates


def stored_rates(session: Session) -> dict[tuple[str, str, str, str, str], float | None]:
    rows = session.execute(
        select(Series.indicator, Series.area_code, Series.national_code, Series.sex,
               Observation.period, Observation.value)
        .join(Series, Series.id == Observation.series_id)
        .where(Series.indicator.in_(["offences_per_100k_published",
                                     "victims_per_100k_published"]))
    )  # fmt: skip
    return {(i, area, code, sex, period): value for i, area, code, sex, period, value in rows}


def by_area_and_year(session: Session, **filters: object) -> dict[tuple[str, str], float]:
    """The query's values added up per area and year (over ICCS codes, and over national
    categories without one)."""
    found: dict[tuple[str, str], float] = defaultdict(float)
    for v in ask(session, frequency="A", **filters):
        assert v.status == "final" and v.value is not None
        found[(v.key.area, v.key.period.label)] += v.value
    return found


@pytest.mark.skipif(not SNIC.exists(), reason="../shared/data/ar-snic is not here")
def test_the_real_file_matches_its_raw_figures_for_every_province_and_year(
    db: Database, session: Session
) -> None:
    expected = raw_figures()
    report = run_import(db, SNIC, "snic-provincias", VINTAGE)
    assert report.rows == 23072 and report.without_iccs
    assert len(expected["offences"]) == 24 * 24  # 24 provinces, 2000 to 2023
    assert by_area_and_year(session, indicator="offences") == expected["offences"]
    assert by_area_and_year(session, indicator="victims") == expected["victims"]
    for sex in ("male", "female", "unknown"):
        assert by_area_and_year(session, indicator="victims", sex=sex) == expected[sex]
    assert stored_rates(session) == raw_rates()
    caba_2023 = expected["offences"][("AR-C", "2023")]
    print(f"SNIC: CABA 2023 offences {caba_2023}; {report.observations_added} observations")
    again = run_import(db, SNIC, "snic-provincias", VINTAGE)
    assert not again.changed and again.observations_unchanged == report.observations_added
