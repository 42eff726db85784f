"""Rates per 100,000 inhabitants, on the population of the same area, year, sex and age
group, each naming the population it used.

When several sources give that population, the latest edition wins (then the source
imported last). A rate for a month or a quarter is that period's count over the year's
population: it is not annualised, and its note says so.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.i18n import N_
from atalaya.observatory.models import Frequency, Population, Source
from atalaya.observatory.query import IndicatorValue, Note, PopulationUsed, SourceRef
from atalaya.observatory.vocabulary import indicators

PER = 100_000
# Decimals kept in a rate.
DECIMALS = 4


PopulationKey = tuple[str, int, str, str]  # area, year, sex, age group


def add_rates(session: Session, values: list[IndicatorValue]) -> None:
    """Set the rate and the population used on each value of a per-capita indicator; note
    where no population is known."""
    wanted = [v for v in values if v.value is not None and indicators()[v.key.indicator].per_capita]
    if not wanted:
        return
    populations = _populations(
        session, {v.key.area for v in wanted}, {v.key.period.year for v in wanted}
    )
    for v in wanted:
        key = (v.key.area, v.key.period.year, v.key.sex, v.key.age_group)
        population = populations.get(key)
        if population is None or population.value <= 0:
            message = N_("No population of {area} is known for {year}: no rate.")
            v.notes.append(Note(message, {"area": v.key.area, "year": v.key.period.year}))
            continue
        assert v.value is not None
        v.population = population
        v.rate_per_100k = round(v.value * PER / population.value, DECIMALS)
        if v.key.period.frequency is not Frequency.ANNUAL:
            message = N_("The rate is {period}'s count over the year's population, not annualised.")
            v.notes.append(Note(message, {"period": v.key.period.label}))


def _populations(
    session: Session, areas: set[str], years: set[int]
) -> dict[PopulationKey, PopulationUsed]:
    rows = session.execute(
        select(
            Population.area_code,
            Population.year,
            Population.sex,
            Population.age_group,
            Population.value,
            Source.id,
            Source.publisher,
            Source.dataset,
            Source.vintage,
            Source.source_type,
        )
        .join(Source, Source.id == Population.source_id)
        .where(Population.area_code.in_(areas), Population.year.in_(years))
    )
    found: dict[PopulationKey, PopulationUsed] = {}
    rank: dict[PopulationKey, tuple[dt.date, int]] = {}
    for area, year, sex, age_group, value, *source in rows:
        key = (area, year, sex, age_group)
        ref = SourceRef(*source)
        if key not in rank or (ref.vintage, ref.id) > rank[key]:
            rank[key] = (ref.vintage, ref.id)
            found[key] = PopulationUsed(int(value), year, ref)
    return found
