"""``atalaya stats import``: all of a file or nothing, once, with everything reported."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.audit.models import AuditEntry
from atalaya.db import Database
from atalaya.errors import DomainError
from atalaya.observatory.models import Observation, Population, Series, Source
from observatory.samples import (
    CONAPO_HEADER,
    DOLOSO_FIREARM,
    DOLOSO_KNIFE,
    GOOD_ROW,
    OTHER,
    SESNSP_ROWS,
    VINTAGE,
    conapo_file,
    conapo_rows,
    every_month,
    held,
    run_import,
    sesnsp_file,
    sesnsp_row,
    write_csv,
)


def observations_of(
    session: Session, state: str, category: tuple[str, str, str]
) -> dict[str, float | None]:
    rows = session.execute(
        select(Observation.period, Observation.value)
        .join(Series, Series.id == Observation.series_id)
        .where(Series.area_code == state, Series.national_code == "|".join(category))
    )
    return dict(rows.all())


def test_it_imports_sesnsp_months_mapped_to_iccs_keeping_the_national_category(
    tmp_path: Path, db: Database, session: Session
) -> None:
    report = run_import(db, sesnsp_file(tmp_path), "sesnsp-idefc")
    assert report.new_source and report.rows == len(SESNSP_ROWS)
    assert (report.series_added, report.observations_added) == (6, 6 * 12 + 5)
    source = session.scalars(select(Source)).one()
    assert (source.publisher, source.vintage, source.source_type) == (
        "SESNSP",
        dt.date(2022, 5, 1),
        "police",
    )
    series = session.scalars(
        select(Series).where(Series.national_code == "|".join(DOLOSO_KNIFE))
    ).one()
    assert (series.iccs_code, series.national_scheme, series.area_code, series.weapon) == (
        "0101",
        "mx-sesnsp",
        "MX-CHH",
        "sharp_object",
    )
    assert series.area_path == "/MX/MX-CHH/" and not series.published


def test_quoted_thousands_are_read_as_numbers(
    tmp_path: Path, db: Database, session: Session
) -> None:
    run_import(db, sesnsp_file(tmp_path), "sesnsp-idefc")
    assert observations_of(session, "MX-JAL", DOLOSO_FIREARM)["2021-01"] == 1000


def test_blank_months_are_not_published_and_never_zero(
    tmp_path: Path, db: Database, session: Session
) -> None:
    report = run_import(db, sesnsp_file(tmp_path), "sesnsp-idefc")
    assert report.blank_cells == 7
    months_2022 = {p: v for p, v in observations_of(session, "MX-CHH", DOLOSO_FIREARM).items()
                   if p.startswith("2022")}  # fmt: skip
    assert months_2022 == {f"2022-0{m}": 10 for m in range(1, 6)}


def test_categories_without_an_iccs_code_are_kept_and_reported(
    tmp_path: Path, db: Database, session: Session
) -> None:
    report = run_import(db, sesnsp_file(tmp_path), "sesnsp-idefc")
    assert report.without_iccs == {"|".join(OTHER): 1}
    series = session.scalars(select(Series).where(Series.national_code == "|".join(OTHER))).one()
    assert series.iccs_code == ""
    assert sum(observations_of(session, "MX-CHH", OTHER).values()) == 84  # type: ignore[arg-type]


def test_importing_the_same_edition_again_changes_nothing(
    tmp_path: Path, db: Database, session: Session
) -> None:
    path = sesnsp_file(tmp_path)
    run_import(db, path, "sesnsp-idefc")
    before = held(session)
    again = run_import(db, path, "sesnsp-idefc")
    assert not again.new_source and not again.changed
    assert (again.observations_added, again.observations_unchanged) == (0, 6 * 12 + 5)
    assert held(session) == before


def test_a_new_edition_is_a_new_source(tmp_path: Path, db: Database, session: Session) -> None:
    run_import(db, sesnsp_file(tmp_path), "sesnsp-idefc")
    june = run_import(db, sesnsp_file(tmp_path, name="IDEFC_NM_jun22.csv"), "sesnsp-idefc")
    assert june.new_source and june.observations_added == 6 * 12 + 5
    assert held(session)[0] == 2


def test_an_edition_imported_again_with_other_values_is_refused_whole(
    tmp_path: Path, db: Database, session: Session
) -> None:
    run_import(db, sesnsp_file(tmp_path), "sesnsp-idefc")
    before = held(session)
    extra = sesnsp_row(2020, 8, DOLOSO_FIREARM, every_month(3))
    changed = sesnsp_row(2021, 8, DOLOSO_KNIFE, every_month(3))
    path = sesnsp_file(tmp_path, [extra, changed], name="IDEFC_NM_may22.csv")
    with pytest.raises(DomainError) as raised:
        run_import(db, path, "sesnsp-idefc")
    assert raised.value.code == "OBS-110"
    assert {(e.code, e.params["line"]) for e in raised.value.errors} == {("OBS-112", 3)}
    assert (
        raised.value.errors[0].params["old"] == "2" and raised.value.errors[0].params["new"] == "3"
    )
    assert held(session) == before


def test_it_imports_conapo_mid_year_populations(
    tmp_path: Path, db: Database, session: Session
) -> None:
    report = run_import(db, conapo_file(tmp_path), "conapo-population", VINTAGE)
    assert report.populations_added == len(conapo_rows())
    nation = session.scalars(
        select(Population).where(Population.area_code == "MX", Population.year == 2021)
    ).all()
    assert {(p.sex, p.value) for p in nation} == {("male", 490_000), ("female", 510_000),
                                                  ("_T", 1_000_000)}  # fmt: skip
    assert (
        run_import(db, conapo_file(tmp_path), "conapo-population", VINTAGE).populations_unchanged
        == 18
    )


def test_an_import_is_audited(tmp_path: Path, db: Database, session: Session) -> None:
    report = run_import(db, sesnsp_file(tmp_path), "sesnsp-idefc")
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "stats.import")).one()
    assert entry.object_id == str(report.source_id) and entry.actor_username == "os:pytest"


GOOD = GOOD_ROW


def bad_sesnsp(tmp_path: Path, *rows: list[str]) -> Path:
    # A good row comes first: it must not be stored either.
    return sesnsp_file(tmp_path, [GOOD, *rows])


BAD_SESNSP = {
    "duplicated row": ([GOOD], "OBS-104", {"line": 3, "first": 2}),
    "unknown state": ([sesnsp_row(2021, 33, DOLOSO_KNIFE, every_month(1))], "OBS-105",
                      {"line": 3, "code": "33"}),
    "negative count": ([sesnsp_row(2021, 14, DOLOSO_KNIFE, ["-4", *every_month(1)[1:]])],
                       "OBS-106", {"line": 3, "column": "Enero"}),
    "not a number": ([sesnsp_row(2021, 14, DOLOSO_KNIFE, ["n/d", *every_month(1)[1:]])],
                     "OBS-107", {"line": 3, "value": "n/d"}),
    "unknown category": ([sesnsp_row(2021, 14, ("Homicidio", "Homicidio raro", "X"),
                                     every_month(1))], "OBS-108", {"line": 3}),
    "bad year": ([sesnsp_row(20021, 14, DOLOSO_KNIFE, every_month(1))], "OBS-109", {"line": 3}),
    "short row": ([["2021", "14", "Jalisco"]], "OBS-111", {"line": 3, "found": 3}),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_SESNSP, ids=list(BAD_SESNSP))
def test_a_bad_row_gets_its_code_and_line_and_nothing_is_imported(
    case: str, tmp_path: Path, db: Database, session: Session
) -> None:
    rows, code, params = BAD_SESNSP[case]
    with pytest.raises(DomainError) as raised:
        run_import(db, bad_sesnsp(tmp_path, *rows), "sesnsp-idefc")
    assert raised.value.code == "OBS-110" and raised.value.params == {"count": 1}
    (problem,) = raised.value.errors
    assert problem.code == code and params.items() <= problem.params.items()
    assert held(session) == (0, 0, 0, 0)


def test_every_problem_of_a_file_is_listed_at_once(tmp_path: Path, db: Database) -> None:
    rows = [sesnsp_row(2021, 99, DOLOSO_KNIFE, ["-1", *every_month(1)[1:]]), GOOD]
    with pytest.raises(DomainError) as raised:
        run_import(db, bad_sesnsp(tmp_path, *rows), "sesnsp-idefc")
    assert [(e.code, e.params["line"]) for e in raised.value.errors] == [
        ("OBS-105", 3),
        ("OBS-106", 3),
        ("OBS-104", 4),
    ]


def test_a_file_in_utf8_is_not_taken_for_latin1(
    tmp_path: Path, db: Database, session: Session
) -> None:
    path = tmp_path / "IDEFC_NM_may22.csv"
    path.write_bytes(sesnsp_file(tmp_path).read_bytes().decode("latin-1").encode("utf-8"))
    with pytest.raises(DomainError) as raised:
        run_import(db, path, "sesnsp-idefc")
    assert raised.value.code == "OBS-102" and raised.value.params == {
        "encoding": "latin-1",
        "line": 1,
    }
    assert held(session) == (0, 0, 0, 0)


def test_a_population_file_in_latin1_is_refused(
    tmp_path: Path, db: Database, session: Session
) -> None:
    path = write_csv(tmp_path / "pob.csv", [CONAPO_HEADER, ["2021", "Nuevo León", "19", "Total", "0", "5"]],
                     "latin-1")  # fmt: skip
    with pytest.raises(DomainError) as raised:
        run_import(db, path, "conapo-population", VINTAGE)
    assert raised.value.code == "OBS-102" and raised.value.params["line"] == 2
    assert held(session) == (0, 0, 0, 0)


def test_a_file_of_another_format_is_refused(
    tmp_path: Path, db: Database, session: Session
) -> None:
    with pytest.raises(DomainError) as raised:
        run_import(db, conapo_file(tmp_path, name="IDEFC_NM_may22.csv"), "sesnsp-idefc")
    assert raised.value.code == "OBS-103" and "Modalidad" in str(raised.value.params["columns"])
    with pytest.raises(DomainError) as raised:
        run_import(db, sesnsp_file(tmp_path), "conapo-population", VINTAGE)
    assert raised.value.code == "OBS-103"
    empty = tmp_path / "IDEFC_NM_jun22.csv"
    empty.write_bytes(b"")
    with pytest.raises(DomainError) as raised:
        run_import(db, empty, "sesnsp-idefc")
    assert raised.value.code == "OBS-103"
    assert held(session) == (0, 0, 0, 0)


def test_an_unknown_format_or_a_missing_edition_date_is_refused(
    tmp_path: Path, db: Database
) -> None:
    with pytest.raises(DomainError) as raised:
        run_import(db, sesnsp_file(tmp_path), "sesnsp-xlsx")
    assert raised.value.code == "OBS-101"
    with pytest.raises(DomainError) as raised:
        run_import(db, sesnsp_file(tmp_path, name="incidencia.csv"), "sesnsp-idefc")
    assert raised.value.code == "OBS-113"
    with pytest.raises(DomainError) as raised:
        run_import(db, conapo_file(tmp_path), "conapo-population")
    assert raised.value.code == "OBS-113"


BAD_CONAPO = {
    "duplicated row": (["2021", "Chihuahua", "08", "Total", "0", "200000"], "OBS-104"),
    "unknown state": (["2021", "Atlántida", "40", "Total", "0", "5"], "OBS-105"),
    "negative": (["2021", "Chihuahua", "08", "Hombres", "0", "-5"], "OBS-106"),
    "not a number": (["2021", "Chihuahua", "08", "Hombres", "0", "mucho"], "OBS-107"),
    "unknown sex": (["2021", "Chihuahua", "08", "Otro", "0", "5"], "OBS-109"),
}


@pytest.mark.parametrize("case", BAD_CONAPO, ids=list(BAD_CONAPO))
def test_a_bad_population_row_gets_its_code_and_nothing_is_imported(
    case: str, tmp_path: Path, db: Database, session: Session
) -> None:
    row, code = BAD_CONAPO[case]
    good = ["2021", "Chihuahua", "08", "Total", "0", "200000"]
    with pytest.raises(DomainError) as raised:
        run_import(db, conapo_file(tmp_path, [good, row]), "conapo-population", VINTAGE)
    assert [(e.code, e.params["line"]) for e in raised.value.errors] == [(code, 3)]
    assert held(session) == (0, 0, 0, 0)
