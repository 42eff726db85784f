"""Settled years (``stat_series_years``): kept equal to what the observations say through
imports, re-imports and changes, so that yearly queries answer as the months would."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from atalaya.db import Database
from atalaya.observatory import rollups
from atalaya.observatory.models import (
    Observation,
    Series,
    SeriesGroup,
    SeriesGroupPeriod,
    SeriesYear,
    Source,
    Status,
)
from atalaya.observatory.query import EVERYTHING, IndicatorQuery
from atalaya.observatory.service import indicator_values
from observatory.samples import (
    DOLOSO_FIREARM,
    FEMINICIDE_FIREARM,
    every_month,
    load_samples,
    run_import,
    sesnsp_file,
    sesnsp_row,
)

WEAKEST_FIRST = (Status.CONFIDENTIAL, Status.NOT_AVAILABLE, Status.ESTIMATED, Status.PROVISIONAL)


def settled_in_python(session: Session) -> dict[tuple[int, int], tuple[float, int, str, bool]]:
    """Each series' years as the rules say, worked out here from the observations alone:
    the year itself, else four quarters, else twelve months; else not complete."""
    parts: dict[tuple[int, int], dict[str, list[tuple[float | None, str]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    rows = session.execute(
        select(Observation.series_id, Observation.year, Observation.frequency,
               Observation.value, Observation.status)
    )  # fmt: skip
    for series_id, year, frequency, value, status in rows:
        parts[(series_id, year)][frequency].append((value, status))
    settled = {}
    for key, by_frequency in parts.items():
        for frequency, whole in (("A", 1), ("Q", 4), ("M", 12)):
            found = by_frequency.get(frequency, [])
            if len(found) == whole:
                statuses = {s for _, s in found}
                weakest = next((s for s in WEAKEST_FIRST if s in statuses), Status.FINAL)
                total = sum(v or 0.0 for v, _ in found)
                settled[key] = (total, whole, weakest.value, True)
                break
        else:
            settled[key] = (0.0, 1, Status.NOT_AVAILABLE.value, False)
    return settled


def stored(session: Session) -> dict[tuple[int, int], tuple[float, int, str, bool]]:
    y = SeriesYear
    rows = session.execute(
        select(y.series_id, y.year, y.value, y.observations, y.status, y.complete)
    )
    return {(s, year): (v, n, status, bool(c)) for s, year, v, n, status, c in rows}


def value_of(session: Session, **filters: object) -> tuple[float | None, str]:
    (found,) = indicator_values(session, IndicatorQuery(**filters), EVERYTHING)
    return found.value, found.status


def test_an_import_settles_every_year_of_its_series(db: Database, tmp_path: Path) -> None:
    load_samples(db, tmp_path)
    with db.sessions() as session:
        years = stored(session)
        assert years == settled_in_python(session)
        # The sample's 2022 has January to May only: that year is not complete.
        assert sorted(c for *_, c in years.values()) == [False] + [True] * (len(years) - 1)


def test_importing_the_missing_months_again_completes_the_year(
    db: Database, tmp_path: Path
) -> None:
    may = [sesnsp_row(2022, 8, DOLOSO_FIREARM, ["10"] * 5 + [""] * 7)]
    run_import(db, sesnsp_file(tmp_path, may, "IDEFC_NM_may22.csv"), "sesnsp-idefc")
    with db.sessions() as session:
        assert value_of(session, iccs="0101", area="MX-CHH", period="2022") == (
            None,
            "not_available",
        )
    # The same edition with the rest of the year: only the new months are added.
    december = [sesnsp_row(2022, 8, DOLOSO_FIREARM, ["10"] * 5 + ["20"] * 7)]
    path = sesnsp_file(tmp_path, december, "december.csv")
    run_import(db, path, "sesnsp-idefc", dt.date(2022, 5, 1))
    with db.sessions() as session:
        assert value_of(session, iccs="0101", area="MX-CHH", period="2022") == (190, "final")
        assert stored(session) == settled_in_python(session)


def test_a_later_edition_gets_its_own_years_and_the_query_uses_them(
    db: Database, tmp_path: Path
) -> None:
    run_import(db, sesnsp_file(tmp_path, [sesnsp_row(2021, 8, DOLOSO_FIREARM, every_month(10))],
                               "IDEFC_NM_may22.csv"), "sesnsp-idefc")  # fmt: skip
    run_import(db, sesnsp_file(tmp_path, [sesnsp_row(2021, 8, DOLOSO_FIREARM, every_month(11)),
                                          sesnsp_row(2021, 8, FEMINICIDE_FIREARM, every_month(1))],
                               "IDEFC_NM_jun22.csv"), "sesnsp-idefc")  # fmt: skip
    with db.sessions() as session:
        assert stored(session) == settled_in_python(session)
        assert value_of(session, iccs="0101", area="MX", period="2021") == (144, "final")


def test_refresh_follows_observations_changed_and_deleted(db: Database, tmp_path: Path) -> None:
    load_samples(db, tmp_path)
    with db.sessions() as session:
        series_id = session.scalar(
            select(Series.id).where(
                Series.area_code == "MX-CHH",
                Series.national_code == "|".join(DOLOSO_FIREARM),
            )
        )
        assert series_id is not None
        o = Observation
        mine = (o.series_id == series_id, o.year == 2021)
        session.execute(
            update(o).where(*mine, o.month == 3).values(value=None, status="confidential")
        )
        rollups.refresh(session, [series_id], [2021])
        assert stored(session) == settled_in_python(session)
        assert stored(session)[(series_id, 2021)] == (110.0, 12, "confidential", True)
        session.execute(delete(o).where(*mine, o.month > 6))
        rollups.refresh(session, [series_id])
        assert stored(session)[(series_id, 2021)] == (0.0, 1, "not_available", False)
        session.execute(delete(o).where(*mine))
        rollups.refresh(session, [series_id], [2021])
        assert (series_id, 2021) not in stored(session)
        assert stored(session) == settled_in_python(session)


@pytest.mark.parametrize("area", ["MX", "MX-CHH", "MX-JAL"])
def test_a_year_is_the_sum_of_its_months_asked_one_by_one(
    db: Database, tmp_path: Path, area: str
) -> None:
    load_samples(db, tmp_path)
    with db.sessions() as session:
        year, status = value_of(session, iccs="01", area=area, period="2021")
        months = [value_of(session, iccs="01", area=area, period=f"2021-{m:02d}") for m in
                  range(1, 13)]  # fmt: skip
        assert status == "final"
        assert year == sum(v or 0 for v, _ in months)


# --- Groups: series that differ in their area alone, within a state --------------------

MUNICIPALITIES = ("MX-08-037", "MX-08-021", "MX-08-011")  # Juárez, Delicias, Camargo


def municipal_series(session: Session, published: bool = True) -> list[int]:
    """Write, as a writer of observations would, a municipal source: homicides in three
    municipalities of Chihuahua, monthly 2020-2021 (2021 lacks December in Camargo), then
    call ``rollups.refresh``; return the series' ids."""
    source = Source(publisher="Fiscalía", dataset="Carpetas por municipio",
                    vintage=dt.date(2022, 1, 1), source_type="police", format="test")  # fmt: skip
    session.add(source)
    session.flush()
    ids = []
    for n, area in enumerate(MUNICIPALITIES):
        series = Series(source_id=source.id, indicator="offences", iccs_code="0101",
                        area_code=area, area_path=f"/MX/MX-CHH/{area}/", published=published)  # fmt: skip
        session.add(series)
        session.flush()
        ids.append(series.id)
        for year in (2020, 2021):
            for month in range(1, 13):
                if (area, year, month) == ("MX-08-011", 2021, 12):
                    continue
                session.add(Observation(series_id=series.id, period=f"{year}-{month:02d}",
                                        frequency="M", year=year, month=month,
                                        value=float(n + month), status="final"))  # fmt: skip
    session.flush()
    rollups.refresh(session, ids)
    return ids


def group_periods(
    session: Session,
) -> dict[tuple[int, str, int, int], tuple[float, int, str, bool]]:
    p = SeriesGroupPeriod
    rows = session.execute(select(p.group_id, p.frequency, p.year, p.month, p.value,
                                  p.observations, p.status, p.complete))  # fmt: skip
    return {(g, f, y, m): (v, n, s, bool(c)) for g, f, y, m, v, n, s, c in rows}


def test_a_group_adds_up_its_members_settled_periods(db: Database) -> None:
    with db.sessions() as session:
        ids = municipal_series(session)
        (group,) = set(session.scalars(select(Series.rollup_group).where(Series.id.in_(ids))))
        assert session.get(SeriesGroup, group).members == 3
        stored = group_periods(session)
        # 2020 whole in all three: (1+...+12) + (2+...+13) + (3+...+14) = 78 + 90 + 102.
        assert stored[(group, "A", 2020, 1)] == (270.0, 36, "final", True)
        # Camargo's 2021 lacks December: the group's year is not complete.
        assert stored[(group, "A", 2021, 1)][3] is False
        assert stored[(group, "Q", 2021, 10)] == (
            10 + 11 + 12 + 11 + 12 + 13 + 0,
            7,
            "not_available",
            False,
        )
        assert stored[(group, "M", 2021, 12)] == (12.0 + 13.0, 2, "final", True)


@pytest.mark.parametrize("period", ["2020", "2021", "2020-Q3", "2021-Q4", "2021-11", "2021-12"])
def test_a_state_read_from_its_group_equals_its_municipalities_added_up(
    db: Database, period: str
) -> None:
    with db.sessions() as session:
        municipal_series(session)
        state = value_of(session, iccs="0101", area="MX-CHH", period=period)
        # A municipality with nothing in the period has no row (Camargo, 2021-12).
        parts = [(v.value, v.status) for area in MUNICIPALITIES
                 for v in indicator_values(session, IndicatorQuery(iccs="0101", area=area,
                                                                   period=period), EVERYTHING)]  # fmt: skip
        if any(status == "not_available" for _, status in parts):
            assert state == (None, "not_available")
        else:
            assert state == (sum(v or 0 for v, _ in parts), "final")


def test_a_group_with_an_unpublished_member_is_not_taken_whole_by_the_public(
    db: Database,
) -> None:
    from atalaya.observatory.query import PUBLIC, Visibility

    with db.sessions() as session:
        juarez, *_ = ids = municipal_series(session)
        session.execute(update(Series).where(Series.id == juarez).values(published=False))
        q = IndicatorQuery(iccs="0101", area="MX-CHH", period="2020")
        (public,) = indicator_values(session, q, PUBLIC)
        assert public.value == 90 + 102  # Delicias and Camargo only
        (analyst,) = indicator_values(session, q, Visibility("/MX/MX-CHH/"))
        assert analyst.value == 270
        assert indicator_values(session, q, Visibility("/MX/MX-JAL/"))[0].value == 90 + 102
        assert len(ids) == 3


def test_a_deleted_member_leaves_its_group_unused_until_refreshed(db: Database) -> None:
    with db.sessions() as session:
        juarez, delicias, _ = municipal_series(session)
        session.execute(delete(Observation).where(Observation.series_id == juarez))
        session.execute(delete(SeriesYear).where(SeriesYear.series_id == juarez))
        session.execute(delete(Series).where(Series.id == juarez))
        assert value_of(session, iccs="0101", area="MX-CHH", period="2020") == (192, "final")
        rollups.refresh(session, [delicias])
        (group,) = set(session.scalars(select(Series.rollup_group).where(Series.id == delicias)))
        assert session.get(SeriesGroup, group).members == 2
        assert group_periods(session)[(group, "A", 2020, 1)] == (192.0, 24, "final", True)
        assert value_of(session, iccs="0101", area="MX-CHH", period="2020") == (192, "final")
