"""The shape of indicator values in the API and in ``atalaya stats query --format json``."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from atalaya.classification import iccs
from atalaya.i18n import translator
from atalaya.observatory.query import IndicatorValue, SourceRef


class SourceOut(BaseModel):
    publisher: str
    dataset: str
    vintage: dt.date
    source_type: str

    @classmethod
    def of(cls, source: SourceRef) -> SourceOut:
        return cls(
            publisher=source.publisher,
            dataset=source.dataset,
            vintage=source.vintage,
            source_type=source.source_type,
        )


class DatasetOut(BaseModel):
    publisher: str
    dataset: str


class PopulationOut(BaseModel):
    """The population a rate was computed on: how many, which year, from which edition
    of which dataset."""

    value: int
    year: int
    vintage: dt.date
    source: DatasetOut


class NationalCategoryOut(BaseModel):
    scheme: str | None
    code: str


class IndicatorOut(BaseModel):
    indicator: str
    iccs: str | None
    iccs_name: str | None
    national_category: NationalCategoryOut | None
    area: str
    period: str
    frequency: str
    sex: str
    age_group: str
    weapon: str
    source_type: str
    value: int | float | None
    status: str
    rate_per_100k: float | None
    population: PopulationOut | None
    sources: list[SourceOut]
    notes: list[str]

    @classmethod
    def of(cls, v: IndicatorValue, language: str) -> IndicatorOut:
        key = v.key
        tr = translator(language)
        national = None
        if key.national_code is not None:
            national = NationalCategoryOut(scheme=key.national_scheme, code=key.national_code)
        population = None
        if v.population is not None:
            population = PopulationOut(
                value=v.population.value,
                year=v.population.year,
                vintage=v.population.source.vintage,
                source=DatasetOut(
                    publisher=v.population.source.publisher, dataset=v.population.source.dataset
                ),
            )
        return cls(
            indicator=key.indicator,
            iccs=key.iccs,
            iccs_name=iccs().name(key.iccs, language) if key.iccs else None,
            national_category=national,
            area=key.area,
            period=key.period.label,
            frequency=key.period.frequency.value,
            sex=key.sex,
            age_group=key.age_group,
            weapon=key.weapon,
            source_type=key.source.source_type,
            value=_number(v.value),
            status=v.status.value,
            rate_per_100k=v.rate_per_100k,
            population=population,
            sources=[SourceOut.of(key.source)],
            notes=[tr.gettext(note.message, **note.params) for note in v.notes],
        )


def _number(value: float | None) -> int | float | None:
    """Counts come out as whole numbers; anything else as it is."""
    if value is not None and float(value).is_integer():
        return int(value)
    return value
