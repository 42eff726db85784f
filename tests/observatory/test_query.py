"""Indicator queries: roll-ups of ICCS codes, areas and periods, totals, rates, notes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from atalaya.db import Database
from atalaya.errors import DomainError
from atalaya.i18n import translator
from atalaya.observatory.query import EVERYTHING, IndicatorQuery, IndicatorValue
from atalaya.observatory.service import indicator_values
from observatory.samples import (
    DOLOSO_FIREARM,
    conapo_file,
    conapo_rows,
    every_month,
    load_samples,
    run_import,
    sesnsp_file,
    sesnsp_row,
)


@pytest.fixture
def samples(db: Database, tmp_path: Path) -> None:
    load_samples(db, tmp_path)


def ask(session: Session, **filters: object) -> list[IndicatorValue]:
    return indicator_values(session, IndicatorQuery(**filters), EVERYTHING)  # type: ignore[arg-type]


def one(session: Session, **filters: object) -> IndicatorValue:
    (value,) = ask(session, **filters)
    return value


def notes(value: IndicatorValue) -> list[str]:
    tr = translator("en")
    return [tr.gettext(n.message, **n.params) for n in value.notes]


@pytest.mark.usefixtures("samples")
class TestRollUps:
    def test_an_iccs_division_takes_every_national_category_under_it(
        self, session: Session
    ) -> None:
        # Homicidio doloso (firearm, knife) and feminicidio are all intentional homicide.
        assert one(session, iccs="0101", area="MX-CHH", period="2021").value == 156

    def test_an_iccs_section_takes_the_codes_below_it(self, session: Session) -> None:
        # 0101 plus vehicular homicide (010321) in Chihuahua.
        assert one(session, iccs="01", area="MX-CHH", period="2021").value == 156 + 60

    def test_a_country_is_the_sum_of_its_states(self, session: Session) -> None:
        assert one(session, iccs="0101", area="MX", period="2021").value == 156 + 2100

    def test_a_year_and_a_quarter_are_their_months(self, session: Session) -> None:
        assert one(session, iccs="0101", area="MX", period="2021-Q1").value == 3 * 13 + 1200
        assert one(session, iccs="0101", area="MX-JAL", period="2021-01").value == 1000

    def test_without_a_period_each_one_is_listed_at_the_frequency_asked(
        self, session: Session
    ) -> None:
        years = ask(session, iccs="0101", area="MX-CHH", frequency="A")
        assert [(v.key.period.label, v.value) for v in years] == [("2021", 156), ("2022", None)]
        quarters = ask(session, iccs="0101", area="MX-CHH", frequency="Q")
        assert [(v.key.period.label, v.value) for v in quarters][4:] == [
            ("2022-Q1", 30), ("2022-Q2", None)
        ]  # fmt: skip
        months = ask(session, iccs="0101", area="MX-CHH", period=None)
        assert len(months) == 12 + 5

    def test_a_year_not_wholly_published_is_not_available_never_a_partial_sum(
        self, session: Session
    ) -> None:
        value = one(session, iccs="0101", area="MX-CHH", period="2022")
        assert (value.value, value.status) == (None, "not_available")
        assert value.rate_per_100k is None
        assert "Not every part of 2022 is published: no total is given." in notes(value)

    def test_weapons_add_up_to_the_total_or_are_asked_for_one_by_one(
        self, session: Session
    ) -> None:
        assert one(session, iccs="0101", area="MX", period="2021", weapon="firearm").value == (
            120 + 12 + 2100
        )
        by_weapon = ask(session, iccs="0101", area="MX", period="2021", by=("weapon",))
        assert {v.key.weapon: v.value for v in by_weapon} == {
            "firearm": 2232, "sharp_object": 24
        }  # fmt: skip

    def test_a_national_category_takes_the_categories_under_it(self, session: Session) -> None:
        found = ask(session, national_category="mx-sesnsp:Homicidio", area="MX", period="2021")
        assert {(v.key.iccs, v.value) for v in found} == {("0101", 2244), ("010321", 60)}
        assert one(session, national_category="Homicidio", iccs="01", area="MX",
                   period="2021").value == 2304  # fmt: skip
        by_category = ask(session, iccs="0101", area="MX-CHH", period="2021",
                          by=("national_category",))  # fmt: skip
        assert {v.key.national_code: v.value for v in by_category} == {
            "|".join(DOLOSO_FIREARM): 120,
            "Homicidio|Homicidio doloso|Con arma blanca": 24,
            "Feminicidio|Feminicidio|Con arma de fuego": 12,
        }

    def test_categories_without_iccs_code_appear_under_none(self, session: Session) -> None:
        found = ask(session, area="MX-CHH", period="2021")
        assert {(v.key.iccs, v.value) for v in found} == {
            ("0101", 156), ("010321", 60), (None, 84)
        }  # fmt: skip

    def test_the_latest_edition_of_a_dataset_replaces_the_earlier(
        self, session: Session, db: Database, tmp_path: Path
    ) -> None:
        revised = sesnsp_row(2021, 8, DOLOSO_FIREARM, every_month(11))
        run_import(db, sesnsp_file(tmp_path, [revised], name="IDEFC_NM_jun22.csv"), "sesnsp-idefc")
        value = one(session, iccs="0101", area="MX-CHH", period="2021")
        assert value.value == 132 and value.key.source.vintage == dt.date(2022, 6, 1)


@pytest.mark.usefixtures("samples")
class TestRates:
    def test_a_rate_is_per_100000_of_the_same_area_and_year(self, session: Session) -> None:
        value = one(session, iccs="0101", area="MX", period="2021")
        assert value.rate_per_100k == pytest.approx(2256 / 1_000_000 * 100_000)
        population = value.population
        assert (population.value, population.year) == (1_000_000, 2021)
        assert (population.source.publisher, population.source.vintage) == (
            "CONAPO",
            dt.date(2023, 1, 1),
        )
        state = one(session, iccs="0101", area="MX-CHH", period="2021")
        assert state.rate_per_100k == pytest.approx(78.0)

    def test_a_rate_for_a_month_is_not_annualised_and_says_so(self, session: Session) -> None:
        value = one(session, iccs="0101", area="MX-JAL", period="2021-01")
        assert value.rate_per_100k == pytest.approx(1000 / 400_000 * 100_000)
        assert "The rate is 2021-01's count over the year's population, not annualised." in notes(
            value
        )

    def test_the_latest_population_edition_is_used(
        self, session: Session, db: Database, tmp_path: Path
    ) -> None:
        newer = conapo_file(tmp_path, conapo_rows(scale=2), name="newer.csv")
        run_import(db, newer, "conapo-population", dt.date(2024, 1, 1))
        value = one(session, iccs="0101", area="MX", period="2021")
        assert value.population.value == 2_000_000
        assert value.rate_per_100k == pytest.approx(2256 / 2_000_000 * 100_000)

    def test_no_population_means_no_rate_and_a_note(
        self, session: Session, db: Database, tmp_path: Path
    ) -> None:
        run_import(db, sesnsp_file(tmp_path, [sesnsp_row(2019, 8, DOLOSO_FIREARM, every_month(1))],
                                   name="IDEFC_NM_jul22.csv"), "sesnsp-idefc")  # fmt: skip
        value = one(session, iccs="0101", area="MX-CHH", period="2019")
        assert value.value == 12 and value.rate_per_100k is None and value.population is None
        assert "No population of MX-CHH is known for 2019: no rate." in notes(value)


@pytest.mark.usefixtures("samples")
def test_a_comparison_at_iccs_level_notes_a_partial_crosswalk(session: Session) -> None:
    value = one(session, iccs="0101", area="MX", period="2021")
    assert notes(value)[0].startswith(
        "The mx-sesnsp crosswalk to ICCS is partial: categories with no ICCS code, not counted"
        " under any: 6 of 98."
    )


def test_bad_filters_are_refused_together(session: Session) -> None:
    with pytest.raises(DomainError) as raised:
        ask(session, iccs="0108", period="2021-13", area="XX", sex="other", by=("colour",))
    found = {(e.field, e.code) for e in raised.value.errors}
    assert found == {("iccs", "OBS-115"), ("period", "OBS-114"), ("area", "ACC-102"),
                     ("sex", "OBS-116"), ("by", "OBS-116")}  # fmt: skip


def test_nothing_imported_means_nothing_found(session: Session) -> None:
    assert ask(session, iccs="0101", area="MX", period="2021") == []


def store_series(
    db: Database, indicator: str, observations: list[tuple[str, float | None, str]]
) -> None:
    """Store one series of Chihuahua (ICCS 0101) with ``observations`` (period, value,
    status), as an importer of another publisher would, and publish it."""
    from types import SimpleNamespace

    from atalaya.clitools import unit_of_work
    from atalaya.observatory.imports import (
        ObservationIn,
        SeriesKey,
        SourceInfo,
        StatisticsFile,
        store,
    )
    from atalaya.observatory.models import SourceType, Status
    from atalaya.observatory.periods import Period
    from atalaya.observatory.service import publish
    from conftest import TEST_CONTEXT

    info = SourceInfo("Fiscalía", "test", SourceType.POLICE, dt.date(2024, 1, 1), "test")
    series = SeriesKey(indicator, "0101", "", "", "MX-CHH")
    found = StatisticsFile(info, {"MX-CHH": "/MX/MX-CHH/"})
    found.observations = [ObservationIn(n, series, Period.parse(p), v, Status(s))
                          for n, (p, v, s) in enumerate(observations, 2)]  # fmt: skip
    with unit_of_work(SimpleNamespace(db=db)) as session:  # type: ignore[arg-type]
        publish(session, TEST_CONTEXT, store(session, found, TEST_CONTEXT).source_id)


def test_a_series_published_monthly_and_yearly_counts_once(db: Database, session: Session) -> None:
    months = [(f"2020-{m:02d}", 1.0, "final") for m in range(1, 13)]
    store_series(db, "offences", [*months, ("2020", 12.0, "final")])
    assert one(session, area="MX-CHH", period="2020").value == 12
    assert one(session, area="MX-CHH", period="2020-Q2").value == 3


def test_a_sum_takes_the_weakest_status_of_its_parts(db: Database, session: Session) -> None:
    store_series(db, "offences", [("2020-01", 4.0, "final"), ("2020-02", 5.0, "provisional"),
                                  ("2020-03", None, "confidential"), ("2020-04", 1.0, "final"),
                                  ("2020-05", 1.0, "estimated"), ("2020-06", 1.0, "provisional")])  # fmt: skip
    assert (one(session, area="MX-CHH", period="2020-Q1").value,
            one(session, area="MX-CHH", period="2020-Q1").status) == (None, "confidential")  # fmt: skip
    q2 = one(session, area="MX-CHH", period="2020-Q2")
    assert (q2.value, q2.status) == (3, "estimated")
    february = one(session, area="MX-CHH", period="2020-02")
    assert (february.value, february.status) == (5, "provisional")


def test_published_rates_are_never_added_up(db: Database, session: Session) -> None:
    store_series(
        db, "offences_per_100k_published", [(f"2020-0{m}", m + 0.5, "final") for m in (1, 2, 3)]
    )
    january = one(session, area="MX-CHH", period="2020-01")
    assert (january.value, january.rate_per_100k) == (1.5, None)
    quarter = one(session, area="MX-CHH", period="2020-Q1", indicator="offences_per_100k_published")
    assert (quarter.value, quarter.status) == (None, "not_available")
    assert "Published rates cannot be added up: ask for one area, period and category." in notes(
        quarter
    )
