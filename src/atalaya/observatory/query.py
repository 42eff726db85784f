"""Indicator values: observations rolled up to the ICCS code, area and period asked for,
with notes on what they rest on (rates: ``atalaya.observatory.rates``; both together:
``atalaya.observatory.service.indicator_values``).

How a query is answered:

1. **Series.** Those the caller may see (``Visibility``), of the latest edition of each
   dataset among them, matching the filters. ICCS codes match at any level (01 takes
   0101 and everything under it), areas take the areas below them, national
   categories the categories below them (``Robo`` takes ``Robo|...``).
2. **Totals.** Sex, age group and weapon are totals (``_T``) unless filtered or broken
   down (``by``): a source's total series is used where it has one, otherwise its
   breakdown, which adds up to it.
3. **Periods.** A year is its months (or quarters) added up, a quarter its months, but
   only when every one of them is there: otherwise the value is not available, never
   a partial sum. A series published both monthly and yearly counts once.
4. **Rows.** Series are added up per indicator, ICCS code, area, period, sex, age group,
   weapon and source: two sources (police and health, say) are never combined. A part
   that is not available or confidential makes the sum so too.

Filters left out list each value as stored (indicators, ICCS codes, areas, periods,
sources); ``frequency`` turns stored periods into years, quarters or months.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from atalaya.accounts.authz import Principal
from atalaya.classification import crosswalk, iccs
from atalaya.classification.crosswalks import SCHEMES
from atalaya.errors import DomainError, FieldError
from atalaya.geo.service import get_area
from atalaya.i18n import N_
from atalaya.observatory.models import TOTAL, Frequency, Observation, Series, Source, Status
from atalaya.observatory.periods import FREQUENCIES, Period, shorter_or_equal
from atalaya.observatory.vocabulary import BREAKDOWNS, dimension_values, indicators

BY_CHOICES = (*BREAKDOWNS, "national_category")
OBSERVATION_SOURCE_TYPES = ("police", "health", "forensic", "victim_survey")
# How a sum's status follows from its parts' (the first one present wins).
STATUS_PRECEDENCE = (
    Status.CONFIDENTIAL,
    Status.NOT_AVAILABLE,
    Status.ESTIMATED,
    Status.PROVISIONAL,
    Status.FINAL,
)
WITHOUT_VALUE = (Status.CONFIDENTIAL, Status.NOT_AVAILABLE)
# A SELECT of any columns.
AnySelect = Select[*tuple[Any, ...]]
# Series ids per statement (bind parameters are limited on both engines).
ID_CHUNK = 5000


@dataclass(frozen=True)
class IndicatorQuery:
    indicator: str | None = None
    iccs: str | None = None
    national_category: str | None = None
    area: str | None = None
    period: str | None = None
    frequency: str | None = None
    sex: str = TOTAL
    age_group: str = TOTAL
    weapon: str = TOTAL
    source_type: str | None = None
    by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Visibility:
    """Which series a caller sees: the published ones, and the unpublished ones whose area
    path starts with ``unpublished_within`` (``None``: no unpublished one)."""

    unpublished_within: str | None

    @classmethod
    def of(cls, principal: Principal | None) -> Visibility:
        """Anonymous callers and users without ``stats.read_unpublished`` see what is
        published; those with it see the unpublished series of their jurisdiction too."""
        if principal is not None and principal.may("stats.read_unpublished"):
            return cls(principal.jurisdiction_path)
        return cls(None)


PUBLIC = Visibility(None)
# The node's operator, at the command line, sees everything.
EVERYTHING = Visibility("/")


@dataclass(frozen=True)
class SourceRef:
    id: int
    publisher: str
    dataset: str
    vintage: dt.date
    source_type: str


@dataclass(frozen=True)
class PopulationUsed:
    value: int
    year: int
    source: SourceRef


@dataclass(frozen=True)
class SeriesRow:
    id: int
    indicator: str
    iccs_code: str
    national_scheme: str
    national_code: str
    area_code: str
    sex: str
    age_group: str
    weapon: str
    source: SourceRef


@dataclass(frozen=True)
class RowKey:
    indicator: str
    iccs: str | None
    national_scheme: str | None
    national_code: str | None
    area: str
    period: Period
    sex: str
    age_group: str
    weapon: str
    source: SourceRef

    def sort_key(self) -> tuple[Any, ...]:
        return (
            self.indicator,
            self.iccs or "",
            self.national_code or "",
            self.area,
            self.period,
            self.sex,
            self.age_group,
            self.weapon,
            self.source.source_type,
            self.source.publisher,
            self.source.dataset,
        )


@dataclass(frozen=True)
class Note:
    """A remark on a value: an untranslated message and its parameters."""

    message: str
    params: dict[str, object] = field(default_factory=dict, hash=False)


@dataclass
class Sum:
    """Observations added up: their total, their statuses, how many, whether a period
    lacked some of its parts, and the national categories they came from."""

    value: float = 0.0
    statuses: set[str] = field(default_factory=set)
    observations: int = 0
    incomplete: bool = False
    national: set[tuple[str, str]] = field(default_factory=set)

    def add(self, other: Sum) -> None:
        self.value += other.value
        self.statuses |= other.statuses
        self.observations += other.observations
        self.incomplete |= other.incomplete
        self.national |= other.national

    @property
    def status(self) -> Status:
        if self.incomplete:
            return Status.NOT_AVAILABLE
        return next(s for s in STATUS_PRECEDENCE if s in self.statuses or s is Status.FINAL)


@dataclass
class IndicatorValue:
    key: RowKey
    value: float | None
    status: Status
    notes: list[Note] = field(default_factory=list)
    rate_per_100k: float | None = None
    # The population the rate was computed on.
    population: PopulationUsed | None = None


def check(session: Session, q: IndicatorQuery) -> None:
    """Raise every problem of ``q``'s filters at once (``OBS-114``, ``OBS-115``,
    ``OBS-116``, ``ACC-102``), each naming its filter."""
    errors: list[FieldError] = []

    def choose(name: str, value: str | None, choices: Iterable[str]) -> None:
        allowed = sorted(choices)
        if value is not None and value not in allowed:
            params: dict[str, object] = {"value": value, "choices": ", ".join(allowed)}
            errors.append(FieldError(name, "OBS-116", params))

    choose("indicator", q.indicator, indicators())
    choose("frequency", q.frequency, [f.value for f in Frequency])
    choose("source_type", q.source_type, OBSERVATION_SOURCE_TYPES)
    for name in BREAKDOWNS:
        choose(name, getattr(q, name), dimension_values(name))
    for name in q.by:
        choose("by", name, BY_CHOICES)
    if q.iccs is not None and q.iccs not in iccs():
        errors.append(FieldError("iccs", "OBS-115", {"code": q.iccs}))
    for value, check_one in ((q.period, Period.parse), (q.area, partial(get_area, session))):
        try:
            if value is not None:
                check_one(value)
        except DomainError as error:
            errors.append(FieldError(error.field or "", error.code, error.params))
    if errors:
        raise DomainError(errors[0].code, errors=errors)


def query(session: Session, q: IndicatorQuery, visibility: Visibility) -> list[IndicatorValue]:
    """Return the values ``q`` asks for, as far as ``visibility`` allows, sorted, with their
    notes (rates are added by ``rates.add_rates``). Raises the errors of ``check``."""
    check(session, q)
    series = _totals(q, _latest(_series(session, q, visibility)))
    values = [_value(key, total) for key, total in _sums(session, q, series).items()]
    return sorted(values, key=lambda v: v.key.sort_key())


def _series(session: Session, q: IndicatorQuery, visibility: Visibility) -> list[SeriesRow]:
    stmt = select(
        Series.id,
        Series.indicator,
        Series.iccs_code,
        Series.national_scheme,
        Series.national_code,
        Series.area_code,
        Series.sex,
        Series.age_group,
        Series.weapon,
        Source.id,
        Source.publisher,
        Source.dataset,
        Source.vintage,
        Source.source_type,
    ).join(Source, Source.id == Series.source_id)
    within = visibility.unpublished_within
    if within is None:
        stmt = stmt.where(Series.published)
    else:
        stmt = stmt.where(
            or_(Series.published, Series.area_path.startswith(within, autoescape=True))
        )
    return [_series_row(tuple(row)) for row in session.execute(_filtered(session, stmt, q))]


def _series_row(row: tuple[Any, ...]) -> SeriesRow:
    series_id, indicator, iccs_code, scheme, code, area, sex, age_group, weapon, *source = row
    return SeriesRow(
        series_id,
        indicator,
        iccs_code,
        scheme,
        code,
        area,
        sex,
        age_group,
        weapon,
        SourceRef(*source),
    )


def _filtered(session: Session, stmt: AnySelect, q: IndicatorQuery) -> AnySelect:
    if q.indicator:
        stmt = stmt.where(Series.indicator == q.indicator)
    if q.source_type:
        stmt = stmt.where(Source.source_type == q.source_type)
    if q.iccs:
        stmt = stmt.where(Series.iccs_code.startswith(q.iccs))
    if q.area:
        path = get_area(session, q.area).path
        stmt = stmt.where(Series.area_path.startswith(path, autoescape=True))
    if q.national_category:
        scheme, code = national_filter(q.national_category)
        if scheme:
            stmt = stmt.where(Series.national_scheme == scheme)
        stmt = stmt.where(
            or_(
                Series.national_code == code,
                Series.national_code.startswith(code + "|", autoescape=True),
            )
        )
    for name in BREAKDOWNS:
        value = getattr(q, name)
        if value != TOTAL:
            stmt = stmt.where(getattr(Series, name) == value)
    return stmt


def national_filter(text: str) -> tuple[str | None, str]:
    """Return the scheme (``None``: any) and category of ``mx-sesnsp:Robo`` or ``Robo``."""
    scheme, sep, code = text.partition(":")
    if sep and scheme in SCHEMES:
        return scheme, code
    return None, text


def _latest(series: list[SeriesRow]) -> list[SeriesRow]:
    """Keep the series of the latest edition of each dataset among those found.

    A dataset is its publisher, name and source type: a publisher's police and health
    figures under one name (UNODC's) are two datasets, never one replacing the other.
    """
    latest: dict[tuple[str, str, str], dt.date] = {}
    for s in series:
        dataset = _dataset(s)
        latest[dataset] = max(latest.get(dataset, s.source.vintage), s.source.vintage)
    return [s for s in series if s.source.vintage == latest[_dataset(s)]]


def _dataset(s: SeriesRow) -> tuple[str, str, str]:
    return (s.source.publisher, s.source.dataset, str(s.source.source_type))


def _totals(q: IndicatorQuery, series: list[SeriesRow]) -> list[SeriesRow]:
    """For each breakdown asked as a total, keep a source's total series where it has one,
    otherwise all of its parts."""
    for name in BREAKDOWNS:
        if getattr(q, name) != TOTAL or name in q.by:
            continue
        groups: dict[SeriesRow, list[SeriesRow]] = defaultdict(list)
        for s in series:
            blank: dict[str, Any] = {name: ""}
            groups[replace(s, id=0, **blank)].append(s)
        series = [
            s
            for members in groups.values()
            for s in members
            if getattr(s, name) == TOTAL or all(getattr(m, name) != TOTAL for m in members)
        ]
    return series


def _sums(session: Session, q: IndicatorQuery, series: list[SeriesRow]) -> dict[RowKey, Sum]:
    """Return the sum of each row: series settled per target period, then added up."""
    by_id = {s.id: s for s in series}
    cells: dict[tuple[int, Period], dict[Frequency, Sum]] = defaultdict(dict)
    for series_id, frequency, target, status, total, count in _tallies(session, q, list(by_id)):
        cell = cells[(series_id, target)].setdefault(frequency, Sum())
        cell.value += total or 0
        cell.observations += count
        cell.statuses.add(status)
    rows: dict[RowKey, Sum] = {}
    for (series_id, target), by_frequency in cells.items():
        s = by_id[series_id]
        cell = _settled(target, by_frequency)
        if s.national_scheme:
            cell.national.add((s.national_scheme, s.national_code))
        rows.setdefault(_row_key(q, s, target), Sum()).add(cell)
    return rows


Tally = tuple[int, Frequency, Period, str, float | None, int]


def _tallies(session: Session, q: IndicatorQuery, ids: list[int]) -> Iterator[Tally]:
    """Yield, per series, frequency, target period and status, the sum of the values and
    the number of observations.

    Asked for one period, the database adds up what lies in it; otherwise it groups by
    year (for years) or by month, and the months are placed in their quarters here.
    """
    asked = Period.parse(q.period) if q.period else None
    target = asked.frequency if asked else (Frequency(q.frequency) if q.frequency else None)
    o = Observation
    keys: list[Any] = [o.series_id, o.frequency, o.status]
    if asked is None:
        keys += [o.year] if target is Frequency.ANNUAL else [o.year, o.month]
    for start in range(0, len(ids), ID_CHUNK):
        stmt = select(*keys, func.sum(o.value), func.count()).group_by(*keys)
        stmt = stmt.where(o.series_id.in_(ids[start : start + ID_CHUNK]))
        if asked is not None:
            stmt = stmt.where(o.year == asked.year, o.month.between(asked.month, asked.last_month))
        if target is not None:
            stmt = stmt.where(o.frequency.in_([f.value for f in shorter_or_equal(target)]))
        for series_id, frequency, status, *rest in session.execute(stmt):
            *when, total, count = rest
            frequency = Frequency(frequency)
            if asked is not None:
                period = asked
            else:
                period = Period(when[0], when[1] if len(when) > 1 else 1, frequency)
                period = period.within(target) if target is not None else period
            yield series_id, frequency, period, status, total, count


def _settled(target: Period, by_frequency: dict[Frequency, Sum]) -> Sum:
    """Return a series' value for ``target`` from its longest periods that cover it whole;
    not available (``incomplete``) when no frequency does."""
    for frequency in FREQUENCIES:
        cell = by_frequency.get(frequency)
        if cell is not None and cell.observations == target.parts(frequency):
            return cell
    statuses: set[str] = set().union(*(c.statuses for c in by_frequency.values()))
    return Sum(statuses=statuses, observations=1, incomplete=True)


def _row_key(q: IndicatorQuery, s: SeriesRow, target: Period) -> RowKey:
    national: tuple[str | None, str | None] = (None, None)
    if q.national_category:
        national = national_filter(q.national_category)
    elif "national_category" in q.by and s.national_scheme:
        national = (s.national_scheme, s.national_code)
    broken_down = {name: getattr(s if name in q.by else q, name) for name in BREAKDOWNS}
    return RowKey(
        indicator=s.indicator,
        iccs=q.iccs or s.iccs_code or None,
        national_scheme=national[0],
        national_code=national[1],
        area=q.area or s.area_code,
        period=target,
        source=s.source,
        **broken_down,
    )


def _value(key: RowKey, total: Sum) -> IndicatorValue:
    status = total.status
    value = IndicatorValue(key, None if status in WITHOUT_VALUE else total.value, status)
    if total.incomplete:
        message = N_("Not every part of {period} is published: no total is given.")
        value.notes.append(Note(message, {"period": key.period.label}))
    if not indicators()[key.indicator].additive and total.observations > 1:
        value.value, value.status = None, Status.NOT_AVAILABLE
        message = N_("Published rates cannot be added up: ask for one area, period and category.")
        value.notes.append(Note(message))
    if key.iccs:
        value.notes += crosswalk_notes(total.national)
    return value


def crosswalk_notes(national: set[tuple[str, str]]) -> list[Note]:
    """Return what a comparison at ICCS level of these national categories must say: that
    a crosswalk is partial, and how many categories match only approximately."""
    notes = []
    for scheme in sorted({scheme for scheme, _ in national}):
        walk = crosswalk(scheme)
        if unmapped := len(walk.unmapped()):
            # Worded so that any number reads right, in every language (no plural forms).
            message = N_(
                "The {scheme} crosswalk to ICCS is partial: categories with no ICCS code, "
                "not counted under any: {unmapped} of {total}."
            )
            notes.append(
                Note(message, {"scheme": scheme, "unmapped": unmapped, "total": len(walk)})
            )
        codes = [code for s, code in national if s == scheme]
        approximate = sum(1 for c in codes if walk.map(c).note.startswith("approximate:"))
        if approximate:
            message = N_(
                "{scheme} categories counted here that match ICCS only approximately: {count}."
            )
            notes.append(Note(message, {"scheme": scheme, "count": approximate}))
    return notes
