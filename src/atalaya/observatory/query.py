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
5. **Disclosure control.** In the public's view, small counts of a source with a
   threshold are withheld as confidential, and so are the figures they could be worked
   out from (``atalaya.observatory.disclosure``).

Filters left out list each value as stored (indicators, ICCS codes, areas, periods,
sources); ``frequency`` turns stored periods into years, quarters or months.

The database does the adding up (one statement per query, rows per key and period):
the series are chosen in SQL (``_chosen``), their years read from the settled years
kept by ``atalaya.observatory.rollups``, quarters and months settled from the
observations, and a group of series taken whole read already added up. The rules are
those above; ``_latest`` and ``_totals`` state them in Python, for ``targets``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, partial
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    CompoundSelect,
    Select,
    String,
    and_,
    case,
    exists,
    func,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from atalaya.accounts.authz import Principal
from atalaya.classification import crosswalk, iccs
from atalaya.classification.crosswalks import SCHEMES
from atalaya.errors import DomainError, FieldError
from atalaya.geo.service import get_area
from atalaya.i18n import N_
from atalaya.observatory import disclosure
from atalaya.observatory.models import (
    TOTAL,
    Frequency,
    Observation,
    Series,
    SeriesGroup,
    SeriesGroupPeriod,
    SeriesYear,
    Source,
    Status,
)
from atalaya.observatory.periods import MONTHS, Period, shorter_or_equal
from atalaya.observatory.rollups import GROUPED, RANKED, settled, status_rank
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

    @property
    def public(self) -> bool:
        """Whether it is the public's view, whose small counts are withheld
        (``atalaya.observatory.disclosure``)."""
        return self.unpublished_within is None


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
    values = [_value(key, total) for key, total in _sums(session, q, visibility).items()]
    if visibility.public:
        for v in disclosure.withheld(session, q, values):
            _withhold(v)
    return sorted(values, key=lambda v: v.key.sort_key())


def _withhold(v: IndicatorValue) -> None:
    """Make ``v`` confidential: no value, and a note that says why in general terms (never
    whether it is a small count or a figure it could be worked out from)."""
    v.value, v.status = None, Status.CONFIDENTIAL
    v.notes.append(Note(WITHHELD))


WITHHELD = N_(
    "Confidential: small counts are withheld, and so are figures from which one could be "
    "worked out."
)


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
    stmt = _filtered(session, _visible(stmt, visibility), q)
    return [_series_row(tuple(row)) for row in session.execute(stmt)]


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


def _sums(session: Session, q: IndicatorQuery, visibility: Visibility) -> dict[RowKey, Sum]:
    """Return the sum of each row, added up in the database: the series chosen
    (``_chosen``), each settled per target period, added up per row key and national
    category (crosswalk notes name the categories a value rests on)."""
    chosen, sources = _chosen(session, q, visibility)
    keys = _grouped_by(q)
    names = [str(k.key) for k in keys]
    rows: dict[RowKey, Sum] = {}
    for row in session.execute(_added_up(q, chosen, keys)):
        *key, year, month, frequency, value, count, rank, complete = row
        found = dict(zip(names, key, strict=True))
        period = Period(year, month, Frequency(frequency))
        total = Sum(value or 0.0, {RANKED[rank]}, count, not complete)
        scheme, code = found["national_scheme"], found["national_code"]
        if scheme:
            total.national.add((scheme, code))
        row_key = _key(q, found, period, sources[found["source_id"]])
        rows.setdefault(row_key, Sum()).add(total)
    return rows


def _added_up(
    q: IndicatorQuery, chosen: AnySelect, keys: list[Any]
) -> AnySelect | CompoundSelect[*tuple[Any, ...]]:
    """Return a SELECT of ``keys``, then the period (year, month, frequency) and the sum of
    the chosen series' values, observations, weakest status (its rank) and whether all
    were complete, per key and period (a key may come in several rows, to be added up).

    When ``q`` names an area, the groups of series (``rollups``) whose every member is
    chosen are read whole, already added up; the other series one by one.
    """
    asked = Period.parse(q.period) if q.period else None
    target = asked.frequency if asked else (Frequency(q.frequency) if q.frequency else None)
    if target is None or not q.area:
        return _series_added_up(chosen, keys, asked, target)
    series = chosen.with_only_columns(Series.id, Series.rollup_group).cte("chosen")
    group = series.c.rollup_group
    counts = select(group, func.count().label("taken")).where(group.is_not(None)).group_by(group)
    taken = counts.subquery("taken")
    g = SeriesGroup
    whole = (
        select(g.id)
        .join_from(taken, g, g.id == taken.c.rollup_group)
        .where(g.members == taken.c.taken, g.members >= GROUPED)
        .cte("whole")
    )
    # The chosen series outside those groups, looked up by id.
    partial = or_(group.is_(None), group.not_in(select(whole.c.id)))
    rest = select(Series.id).where(Series.id.in_(select(series.c.id).where(partial)))
    return union_all(
        _groups_added_up(whole, keys, asked, target),
        _series_added_up(rest, keys, asked, target),
    )


def _groups_added_up(
    whole: CTE, keys: list[Any], asked: Period | None, target: Frequency
) -> AnySelect:
    """``_added_up`` for the groups listed in ``whole``."""
    g, p = SeriesGroup, SeriesGroupPeriod
    group_keys = [getattr(g, str(k.key)) for k in keys]
    on = and_(p.group_id == g.id, p.frequency == target.value)
    if asked is not None:
        on = and_(on, p.year == asked.year, p.month == asked.month)
    return (
        select(
            *group_keys,
            p.year,
            p.month,
            p.frequency,
            func.sum(p.value),
            func.sum(p.observations),
            func.max(status_rank(p.status)),
            func.min(case((p.complete, 1), else_=0)),
        )
        .join_from(whole, g, g.id == whole.c.id)
        .join(p, on)
        .group_by(*group_keys, p.year, p.month, p.frequency)
    )


def _series_added_up(
    chosen: AnySelect, keys: list[Any], asked: Period | None, target: Frequency | None
) -> AnySelect:
    """``_added_up`` for the series ``chosen`` (a SELECT from the series), one by one.

    Years are read from ``stat_series_years``; quarters and months are settled from the
    observations; without a period or frequency, each observation is its own period.
    The series are read in the order of their unique index, which ``keys`` follow, so
    that SQLite adds up one year without sorting.
    """
    if target is Frequency.ANNUAL:
        y = SeriesYear
        # One year: no need to group by it, and SQLite then adds up in the series' index
        # order without sorting.
        year: Any = literal_column(str(int(asked.year))) if asked is not None else y.year
        on = y.series_id == Series.id
        stmt = chosen.with_only_columns(
            *keys,
            year,
            literal_column("1"),
            literal_column(f"'{target.value}'"),
            func.sum(y.value),
            func.sum(y.observations),
            func.max(status_rank(y.status)),
            func.min(case((y.complete, 1), else_=0)),
        )
        if asked is None:
            return stmt.join(y, on).group_by(*keys, y.year)
        return stmt.join(y, and_(on, y.year == asked.year)).group_by(*keys)
    o = Observation
    if target is None:
        return (
            chosen.with_only_columns(
                *keys,
                o.year,
                o.month,
                o.frequency,
                func.sum(func.coalesce(o.value, 0.0)),
                func.count(),
                func.max(status_rank(o.status)),
                literal_column("1"),
            )
            .join(o, o.series_id == Series.id)
            .group_by(*keys, o.year, o.month, o.frequency)
        )
    # By label, so that each series' periods are found in its primary key.
    where = [o.period.in_(_labels_within(asked))] if asked is not None else []
    cells = settled(target, where, chosen, keys).subquery("cells")
    c = cells.c
    carried = [c[str(k.key)] for k in keys]
    return select(
        *carried,
        c.year,
        c.month,
        literal_column(f"'{target.value}'"),
        func.sum(c.value),
        func.sum(c.observations),
        func.max(c.rank),
        func.min(c.complete),
    ).group_by(*carried, c.year, c.month)


def _chosen(
    session: Session, q: IndicatorQuery, visibility: Visibility
) -> tuple[AnySelect, dict[int, SourceRef]]:
    """Return a SELECT (from the series) of the series to add up, as
    ``_totals(_latest(_series(...)))`` would list them, and the sources they are from:
    visible, matching the filters, of the latest edition of each dataset found, a
    source's total series where it has one (or else its parts).

    The editions are chosen here from the few sources found; the totals, on SQLite, by
    looking up each part's total in the series' unique index (``_kept``; SQLite sorts
    slowly, for windows), on PostgreSQL with window functions (``_totalled``).
    """
    stmt = select(Series.id).join(Source, Source.id == Series.source_id)
    stmt = _filtered(session, _visible(stmt, visibility), q)
    # Per source, the first series found will do: no need to read them all.
    any_found = _filtered(session, _visible(select(Series.id), visibility), q)
    found = session.scalars(
        select(Source.id).where(any_found.where(Series.source_id == Source.id).exists())
    )
    sources = _latest_editions(session, found.all())
    stmt = stmt.where(Series.source_id.in_(sources))
    steps = tuple(name for name in BREAKDOWNS if getattr(q, name) == TOTAL and name not in q.by)
    if not steps:
        return stmt, sources
    # A series alone in its family has no total or part beside it: it is kept as it is.
    if session.get_bind().dialect.name == "sqlite":
        return stmt.where(or_(Series.alone, _kept(steps, visibility))), sources
    parts = _totalled(stmt.where(Series.alone.is_(False)), steps)
    return stmt.where(or_(Series.alone, Series.id.in_(parts))), sources


def _totalled(found: AnySelect, steps: tuple[str, ...]) -> AnySelect:
    """Return a SELECT of the ids of the series of ``found`` kept once the breakdowns
    ``steps`` are totalled in turn, with window functions: a sort per step, whatever the
    statistics (PostgreSQL plans a look-up per series, as ``_kept`` makes, or an
    anti-join between CTEs, as nested loops when it misjudges their sizes: minutes)."""
    columns = [Series.id, *(getattr(Series, name) for name in _SAME_PARTS)]
    chosen = found.with_only_columns(*columns)
    for name in steps:
        before = chosen.subquery(f"before_{name}")
        # Byte order ("C") sorts faster than a language's and tells the same values apart.
        others = [_bytewise(before.c[k]) for k in _SAME_PARTS if k != name]
        has_total = func.max(case((before.c[name] == TOTAL, 1), else_=0)).over(partition_by=others)
        ranked = select(*before.c, has_total.label("has_total")).subquery(f"totals_{name}")
        kept = or_(ranked.c[name] == TOTAL, ranked.c.has_total == 0)
        chosen = select(*(ranked.c[str(c.key)] for c in columns)).where(kept)
    return chosen.with_only_columns(chosen.selected_columns.id)


def _bytewise(column: Any) -> Any:
    return column.collate("C") if isinstance(column.type, String) else column


def _latest_editions(session: Session, source_ids: Sequence[int]) -> dict[int, SourceRef]:
    """Return those of ``source_ids`` that are the latest edition of their dataset among
    them (a dataset is its publisher, name and source type)."""
    found = [
        SourceRef(*row)
        for row in session.execute(
            select(
                Source.id, Source.publisher, Source.dataset, Source.vintage, Source.source_type
            ).where(Source.id.in_(source_ids))
        )
    ]
    latest: dict[tuple[str, str, str], dt.date] = {}
    for s in found:
        latest[_dataset_of(s)] = max(latest.get(_dataset_of(s), s.vintage), s.vintage)
    return {s.id: s for s in found if s.vintage == latest[_dataset_of(s)]}


def _dataset_of(source: SourceRef) -> tuple[str, str, str]:
    return (source.publisher, source.dataset, str(source.source_type))


def _dataset(s: SeriesRow) -> tuple[str, str, str]:
    return _dataset_of(s.source)


@cache
def _kept(steps: tuple[str, ...], visibility: Visibility) -> ColumnElement[bool]:
    """Return whether a series is kept once the breakdowns ``steps`` are totalled in turn
    (as ``_totals`` does; built once per steps and visibility)."""
    return _kept_among(Series, steps, visibility)


def _kept_among(series: Any, steps: tuple[str, ...], visibility: Visibility) -> ColumnElement[bool]:
    """Return whether ``series`` is kept once the breakdowns ``steps`` are totalled in turn:
    at each step, a part is left out when a total differing from it in that breakdown
    alone is visible and kept by the steps before."""
    kept: list[ColumnElement[bool]] = []
    for n, name in enumerate(steps):
        total = aliased(Series)
        same = [getattr(total, k) == getattr(series, k) for k in _SAME_PARTS if k != name]
        # "Not a part with a total": SQLite tests the part first, and looks up only then.
        has_total = exists().where(
            getattr(series, name) != TOTAL,
            *same,
            getattr(total, name) == TOTAL,
            _seen(total, visibility),
            _kept_among(total, steps[:n], visibility),
        )
        kept.append(~has_total)
    return and_(true(), *kept)


# What a series' total and its parts have in common, besides the breakdown in question.
_SAME_PARTS = (
    "source_id",
    "indicator",
    "iccs_code",
    "national_scheme",
    "national_code",
    "area_code",
    *BREAKDOWNS,
)


def _visible(stmt: AnySelect, visibility: Visibility) -> AnySelect:
    return stmt.where(_seen(Series, visibility))


def _seen(series: Any, visibility: Visibility) -> ColumnElement[bool]:
    within = visibility.unpublished_within
    if within is None:
        return series.published
    return or_(series.published, series.area_path.startswith(within, autoescape=True))


def _labels_within(period: Period) -> list[str]:
    """Return the labels of ``period`` and of every shorter period inside it."""
    labels = []
    for frequency in shorter_or_equal(period.frequency):
        step = MONTHS[frequency]
        for month in range(period.month, period.last_month + 1, step):
            labels.append(Period(period.year, month, frequency).label)
    return labels


def _grouped_by(q: IndicatorQuery) -> list[Any]:
    """Return the series' columns that tell rows apart (the rest is ``q``'s), in the order
    of the series' unique index. ICCS codes are told apart even when ``q`` names one (a
    code's rows are merged afterwards): that keeps the order."""
    keys: list[Any] = [Series.source_id, Series.indicator, Series.iccs_code]
    keys += [Series.national_scheme, Series.national_code]
    if not q.area:
        keys.append(Series.area_code)
    keys += [getattr(Series, name) for name in BREAKDOWNS if name in q.by]
    return keys


def _key(q: IndicatorQuery, found: dict[str, Any], target: Period, source: SourceRef) -> RowKey:
    national: tuple[str | None, str | None] = (None, None)
    if q.national_category:
        national = national_filter(q.national_category)
    elif "national_category" in q.by and found["national_scheme"]:
        national = (found["national_scheme"], found["national_code"])
    broken_down = {name: found[name] if name in q.by else getattr(q, name) for name in BREAKDOWNS}
    return RowKey(
        indicator=found["indicator"],
        iccs=q.iccs or found["iccs_code"] or None,
        national_scheme=national[0],
        national_code=national[1],
        area=q.area or found["area_code"],
        period=target,
        source=source,
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
