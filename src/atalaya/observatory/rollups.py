"""Series' periods settled in SQL; the table of settled years (``stat_series_years``)
that yearly queries read instead of the observations; and groups of series that differ
in their area alone within a subdivision (``stat_series_groups``), with their members'
settled years, quarters and months added up (``stat_series_group_periods``), which a
query reads instead of the members when it takes every one of them.

A series' value for a target period comes from its longest periods that cover the
target whole (the year itself, its four quarters or its twelve months); when no
frequency does, the target is not available (``complete`` false), never a partial sum.
``settled`` builds that statement once, for the indicator query (quarters and months,
straight from the observations) and for ``refresh`` (years, stored).

Whatever adds series, or adds, changes or deletes observations, calls ``refresh`` with
the series touched, in the same transaction: the importer does (``imports.store``).
Deleting a series deletes its years with it (``ON DELETE CASCADE``); its group then
counts one member more than it has, so no query takes the group whole (see
``query._added_up``) until ``refresh`` is called for one of its series again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import QueryableAttribute, Session, aliased

from atalaya.observatory.models import (
    Frequency,
    Observation,
    Series,
    SeriesGroup,
    SeriesGroupPeriod,
    SeriesYear,
    Status,
)
from atalaya.observatory.periods import FREQUENCIES, MONTHS, shorter_or_equal

# From the strongest status to the weakest: a sum takes its weakest part's.
RANKED = (
    Status.FINAL,
    Status.PROVISIONAL,
    Status.ESTIMATED,
    Status.NOT_AVAILABLE,
    Status.CONFIDENTIAL,
)
# Series and years per statement (bind parameters are limited on both engines).
CHUNK = 5000


def status_rank(status: ColumnElement[Any] | QueryableAttribute[Any]) -> ColumnElement[int]:
    """``status`` as its place in ``RANKED``: the weakest of several is the greatest."""
    return case({s.value: rank for rank, s in enumerate(RANKED)}, value=status, else_=0)


def ranked_status(rank: ColumnElement[Any]) -> ColumnElement[str]:
    return case({r: s.value for r, s in enumerate(RANKED)}, value=rank, else_=RANKED[0].value)


def target_month(target: Frequency | None) -> ColumnElement[int]:
    """The first month of the target period holding an observation."""
    month: ColumnElement[int] = Observation.month  # type: ignore[assignment]
    if target is Frequency.ANNUAL:
        return literal(1)
    if target is Frequency.QUARTERLY:
        return (month - 1) // 3 * 3 + 1
    return month


def settled(
    target: Frequency,
    where: Sequence[ColumnElement[bool]],
    series: Select[Any] | None = None,
    carried: Sequence[Any] = (),
) -> Select[Any]:
    """Return a SELECT of ``series_id, year, month, value, observations, rank, complete``:
    each series' value for each period of ``target`` holding its observations that
    match ``where`` (``month`` is the period's first; ``rank`` its weakest status's).

    Given ``series`` (a SELECT from ``stat_series``), only those series, with their
    columns ``carried`` first.

    An incomplete period has value 0, one observation and the rank of not available.
    """
    o = Observation
    frequencies = shorter_or_equal(target)
    month = target_month(target).label("month")
    parts: list[Any] = []
    for f in frequencies:
        of = o.frequency == f.value
        parts += [
            func.sum(case((of, 1), else_=0)).label(f"n_{f.value}"),
            func.coalesce(func.sum(case((of, o.value))), 0.0).label(f"v_{f.value}"),
            func.max(case((of, status_rank(o.status)))).label(f"r_{f.value}"),
        ]
    columns = [*carried, o.series_id, o.year, month, *parts]
    if series is None:
        stmt = select(*columns)
    else:
        stmt = series.with_only_columns(*columns).join(o, o.series_id == Series.id)
    grouped = (
        stmt.where(o.frequency.in_([f.value for f in frequencies]), *where)
        .group_by(*carried, o.series_id, o.year, month)
        .subquery()
    )
    c = grouped.c
    whole = [(c[f"n_{f.value}"] == MONTHS[target] // MONTHS[f], f.value) for f in frequencies]

    def pick(column: str, otherwise: Any) -> ColumnElement[Any]:
        return case(*[(test, c[f"{column}_{f}"]) for test, f in whole], else_=otherwise)

    return select(
        *[c[str(column.key)] for column in carried],
        c.series_id,
        c.year,
        c.month,
        pick("v", 0.0).label("value"),
        pick("n", 1).label("observations"),
        pick("r", RANKED.index(Status.NOT_AVAILABLE)).label("rank"),
        case(*[(test, 1) for test, _ in whole], else_=0).label("complete"),
    )


def refresh(
    session: Session, series_ids: Iterable[int], years: Iterable[int] | None = None
) -> None:
    """Settle again, from their observations, the years of ``series_ids`` (only ``years``
    when given, else every year), and the periods of their groups, in ``session``'s
    transaction.

    Call it after adding, changing or deleting observations of those series and years,
    and after adding series: a year whose observations are all gone loses its row too.
    """
    ids = sorted(set(series_ids))
    only = sorted(set(years)) if years is not None else None
    if not ids or only == []:
        return
    for start in range(0, len(ids), CHUNK):
        _refresh_years(session, ids[start : start + CHUNK], only)
        _refresh_alone(session, ids[start : start + CHUNK])
    groups = _grouped(session, ids)
    for start in range(0, len(groups), CHUNK):
        _refresh_groups(session, groups[start : start + CHUNK], only)


# A series' family: the series that differ from it in their breakdowns alone.
FAMILY = ("source_id", "indicator", "iccs_code", "national_scheme", "national_code", "area_code")


def _refresh_alone(session: Session, ids: list[int]) -> None:
    """Mark whether each series of the families of ``ids`` is its family's only one."""
    member, other = aliased(Series), aliased(Series)
    in_family = select(member.id).where(member.id.in_(ids), *_same_family(member)).exists()
    size = select(func.count()).select_from(other).where(*_same_family(other)).scalar_subquery()
    session.execute(
        update(Series)
        .where(in_family)
        .values(alone=size == 1)
        .execution_options(synchronize_session=False)
    )


def _same_family(series: Any) -> list[ColumnElement[bool]]:
    """The conditions that ``series`` (an alias) is of the updated row's family."""
    return [getattr(series, k) == getattr(Series, k) for k in FAMILY]


def _refresh_years(session: Session, ids: list[int], years: list[int] | None) -> None:
    gone = delete(SeriesYear).where(SeriesYear.series_id.in_(ids))
    where = [Observation.series_id.in_(ids)]
    if years is not None:
        gone = gone.where(SeriesYear.year.in_(years))
        where.append(Observation.year.in_(years))
    session.execute(gone)
    cells = settled(Frequency.ANNUAL, where).subquery()
    rows = select(
        cells.c.series_id,
        cells.c.year,
        cells.c.value,
        cells.c.observations,
        ranked_status(cells.c.rank),
        cells.c.complete == 1,
    )
    columns = ["series_id", "year", "value", "observations", "status", "complete"]
    session.execute(insert(SeriesYear).from_select(columns, rows))


# What series of a group have in common (their area aside).
GROUP_KEY = (
    "source_id",
    "indicator",
    "iccs_code",
    "national_scheme",
    "national_code",
    "sex",
    "age_group",
    "weapon",
)
# Groups of fewer series are not added up (a query reads their one series as fast).
GROUPED = 2


def group_path(area_path: str) -> str:
    """Return the path of the subdivision holding an area (a country: its own)."""
    return "/" + "/".join(area_path.strip("/").split("/")[:2]) + "/"


def _grouped(session: Session, ids: list[int]) -> list[int]:
    """Put the series of ``ids`` that have no group yet in theirs (made if need be);
    return the groups of ``ids``, their ``members`` counted again."""
    groups: set[int] = set()
    new: dict[tuple[Any, ...], list[int]] = {}
    columns = [getattr(Series, name) for name in GROUP_KEY]
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(Series.id, Series.rollup_group, Series.area_path, *columns).where(
                Series.id.in_(ids[start : start + CHUNK])
            )
        )
        for series_id, group, area_path, *key in rows:
            if group is not None:
                groups.add(group)
            else:
                new.setdefault((*key, group_path(area_path)), []).append(series_id)
    if new:
        found = _group_ids(session, new)
        placed = [{"id": s, "rollup_group": found[key]} for key, ids in new.items() for s in ids]
        session.execute(update(Series), placed)
        groups.update(found.values())
    chosen = sorted(groups)
    for start in range(0, len(chosen), CHUNK):
        counted = select(func.count()).where(Series.rollup_group == SeriesGroup.id)
        session.execute(
            update(SeriesGroup)
            .where(SeriesGroup.id.in_(chosen[start : start + CHUNK]))
            .values(members=counted.scalar_subquery())
        )
    return chosen


def _group_ids(session: Session, keys: Iterable[tuple[Any, ...]]) -> dict[tuple[Any, ...], int]:
    """Return the id of the group of each of ``keys`` (``GROUP_KEY`` and the path), adding
    those not stored yet."""
    wanted = set(keys)
    columns = [*(getattr(SeriesGroup, name) for name in GROUP_KEY), SeriesGroup.area_path]

    def stored() -> dict[tuple[Any, ...], int]:
        sources = sorted({key[0] for key in wanted})
        rows = session.execute(
            select(SeriesGroup.id, *columns).where(SeriesGroup.source_id.in_(sources))
        )
        return {tuple(key): group for group, *key in rows if tuple(key) in wanted}

    found = stored()
    missing = wanted - found.keys()
    if missing:
        names = [*GROUP_KEY, "area_path"]
        rows = [{**dict(zip(names, key, strict=True)), "members": 0} for key in sorted(missing)]
        session.execute(insert(SeriesGroup), rows)
        found = stored()
    return found


def _refresh_groups(session: Session, groups: list[int], years: list[int] | None) -> None:
    """Add up again the members' settled years, quarters and months of ``groups``."""
    gone = delete(SeriesGroupPeriod).where(SeriesGroupPeriod.group_id.in_(groups))
    members = select(Series.id).join(SeriesGroup, SeriesGroup.id == Series.rollup_group)
    members = members.where(SeriesGroup.id.in_(groups), SeriesGroup.members >= GROUPED)
    where = [Observation.series_id.in_(members)]
    if years is not None:
        gone = gone.where(SeriesGroupPeriod.year.in_(years))
        where.append(Observation.year.in_(years))
    session.execute(gone)
    columns = ["group_id", "frequency", "year", "month", "value", "observations", "status"]
    for frequency in FREQUENCIES:
        cells = settled(frequency, where).subquery()
        c = cells.c
        rows = (
            select(
                Series.rollup_group,
                literal(frequency.value),
                c.year,
                c.month,
                func.sum(c.value),
                func.sum(c.observations),
                ranked_status(func.max(c.rank)),
                func.min(c.complete) == 1,
            )
            .join_from(cells, Series, Series.id == c.series_id)
            .group_by(Series.rollup_group, c.year, c.month)
        )
        session.execute(insert(SeriesGroupPeriod).from_select([*columns, "complete"], rows))
