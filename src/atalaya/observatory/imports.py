"""Storing what a reader found in a publisher's file: all of it or none of it, once.

A reader (``atalaya.observatory.formats``) turns a file into a ``StatisticsFile``:
the source it is an edition of, observations by series, populations, and every problem
it found. ``store`` then writes it in the caller's transaction with set-based inserts:

- any problem, in the file or against what is stored, raises ``OBS-110`` (or the
  problem's own code) and the caller rolls everything back;
- the same edition (publisher, dataset, vintage) imported again adds only what is new
  and changes nothing that is stored: a value that differs from the stored one is a
  problem (``OBS-112``), not an update;
- categories without an ICCS code and blank cells are counted in the report, never
  dropped in silence.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session

from atalaya.audit import service as audit
from atalaya.audit.service import AuditContext
from atalaya.db import Prepared
from atalaya.observatory import rollups
from atalaya.observatory.files import CsvTable, Problems, check_width
from atalaya.observatory.models import (
    TOTAL,
    Observation,
    Population,
    Series,
    Source,
    SourceType,
    Status,
)
from atalaya.observatory.periods import Period

# Rows per INSERT round trip, and per step of the progress bar.
CHUNK = 20_000


@dataclass(frozen=True)
class SourceInfo:
    publisher: str
    dataset: str
    source_type: SourceType
    vintage: dt.date
    format: str


class SeriesKey(NamedTuple):
    indicator: str
    iccs_code: str
    national_scheme: str
    national_code: str
    area_code: str
    sex: str = TOTAL
    age_group: str = TOTAL
    weapon: str = TOTAL


class ObservationIn(NamedTuple):
    line: int
    series: SeriesKey
    period: Period
    value: float | None
    status: Status


@dataclass(frozen=True)
class PopulationIn:
    line: int
    area_code: str
    year: int
    sex: str
    age_group: str
    value: int


@dataclass
class StatisticsFile:
    """What a reader found in a file."""

    source: SourceInfo
    area_paths: dict[str, str]
    observations: list[ObservationIn] = field(default_factory=list)
    populations: list[PopulationIn] = field(default_factory=list)
    rows: int = 0
    # Cells left blank by the publisher (not published): no observation is stored.
    blank_cells: int = 0
    # National categories the crosswalk maps to no ICCS code: stored with their
    # national category only. Category -> rows.
    without_iccs: Counter[str] = field(default_factory=Counter)
    # Lines read and deliberately left out (a breakdown Atalaya does not keep): reason ->
    # lines. Reported, never dropped in silence.
    not_imported: Counter[str] = field(default_factory=Counter)
    problems: Problems = field(default_factory=Problems)


@dataclass
class ImportReport:
    source_id: int
    new_source: bool
    rows: int
    blank_cells: int
    without_iccs: dict[str, int]
    not_imported: dict[str, int] = field(default_factory=dict)
    series_added: int = 0
    observations_added: int = 0
    observations_unchanged: int = 0
    populations_added: int = 0
    populations_unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.series_added or self.observations_added or self.populations_added)


Progress = Callable[[int], None]
# Rows read between two reports to the progress bar.
PROGRESS_EVERY = 1000
Row = TypeVar("Row")


def counted(found: StatisticsFile, rows: Iterable[Row], progress: Progress | None) -> Iterator[Row]:
    """Yield ``rows``, counting each in ``found.rows`` and telling ``progress`` as they go."""
    for row in rows:
        found.rows += 1
        if progress and found.rows % PROGRESS_EVERY == 0:
            progress(PROGRESS_EVERY)
        yield row
    if progress:
        progress(found.rows % PROGRESS_EVERY)


def read_table(
    found: StatisticsFile,
    rows: CsvTable,
    read: Callable[[int, list[str]], None],
    progress: Progress | None,
) -> None:
    """Pass each row of ``rows`` that has the header's width to ``read``; note the others."""
    for line, row in counted(found, rows.rows, progress):
        if check_width(row, rows.width, line, found.problems):
            read(line, row)


def store(
    session: Session,
    found: StatisticsFile,
    ctx: AuditContext,
    storing: Progress | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Write ``found`` in ``session``'s transaction (not committed) and return the report.
    ``storing`` is told how many rows will be written, ``progress`` as they are.

    Raises ``OBS-110`` listing every problem, in the file or against what this edition
    already holds; the caller must then roll back.
    """
    if found.problems.found:
        raise found.problems.error()
    source, new = _source(session, found.source)
    report = ImportReport(
        source.id,
        new,
        found.rows,
        found.blank_cells,
        dict(found.without_iccs.most_common()),
        dict(found.not_imported.most_common()),
    )
    series_ids = _series_ids(session, source.id, found, report)
    observations = _new_observations(session, source.id, found, series_ids, report)
    populations = _new_populations(session, source.id, found, report)
    if found.problems.found:
        raise found.problems.error()
    if storing:
        storing(len(observations) + len(populations))
    _insert(session, Observation, observations, progress)
    rollups.refresh(
        session,
        {row["series_id"] for row in observations},
        {row["year"] for row in observations},
    )
    _insert(session, Population, populations, progress)
    audit.record(
        session,
        ctx,
        "stats.import",
        object_type="stat_source",
        object_id=source.id,
        detail={
            "format": found.source.format,
            "vintage": found.source.vintage.isoformat(),
            "observations_added": report.observations_added,
            "populations_added": report.populations_added,
        },
    )
    return report


def _source(session: Session, info: SourceInfo) -> tuple[Source, bool]:
    source = session.scalar(
        select(Source).where(
            Source.publisher == info.publisher,
            Source.dataset == info.dataset,
            Source.vintage == info.vintage,
        )
    )
    if source is not None:
        return source, False
    # A new edition withholds what the one before it did.
    threshold = session.scalar(
        select(Source.disclosure_threshold)
        .where(
            Source.publisher == info.publisher,
            Source.dataset == info.dataset,
            Source.source_type == info.source_type.value,
        )
        .order_by(Source.vintage.desc())
        .limit(1)
    )
    source = Source(
        publisher=info.publisher,
        dataset=info.dataset,
        vintage=info.vintage,
        source_type=info.source_type.value,
        format=info.format,
        disclosure_threshold=threshold or 0,
    )
    session.add(source)
    session.flush()
    return source, True


# The columns that tell a source's series apart, in ``SeriesKey``'s order.
SERIES_KEY_COLUMNS = (
    Series.indicator,
    Series.iccs_code,
    Series.national_scheme,
    Series.national_code,
    Series.area_code,
    Series.sex,
    Series.age_group,
    Series.weapon,
)


def _series_ids(
    session: Session, source_id: int, found: StatisticsFile, report: ImportReport
) -> dict[SeriesKey, int]:
    """Return the id of every series of ``found``, adding those the source lacks."""
    stored = _stored_series(session, source_id)
    missing = set(map(attrgetter("series"), found.observations)) - stored.keys()
    rows = [
        {
            **{column.key: getattr(key, column.key) for column in SERIES_KEY_COLUMNS},
            "source_id": source_id,
            "area_path": found.area_paths[key.area_code],
            "published": False,
        }
        for key in missing
    ]
    if rows:
        session.execute(insert(Series), rows)
        stored = _stored_series(session, source_id)
    report.series_added = len(rows)
    return stored


def _stored_series(session: Session, source_id: int) -> dict[SeriesKey, int]:
    rows = session.execute(
        select(Series.id, *SERIES_KEY_COLUMNS).where(Series.source_id == source_id)
    )
    return {SeriesKey(*key): series_id for series_id, *key in rows}


def _new_observations(
    session: Session,
    source_id: int,
    found: StatisticsFile,
    series_ids: dict[SeriesKey, int],
    report: ImportReport,
) -> list[dict[str, Any]]:
    """Return the rows of the observations not stored yet; note those stored otherwise."""
    stored = _stored_observations(session, source_id) if not report.new_source else {}
    keys = [(series_ids[o.series], o.period.label) for o in found.observations]
    if len(set(keys)) != len(keys):
        _note_repeats(found, keys)
    rows: list[dict[str, Any]] = []
    for o, key in zip(found.observations, keys, strict=True):
        before = stored.get(key) if stored else None
        if before is None:
            period = o.period
            rows.append(
                {
                    "series_id": key[0],
                    "period": key[1],
                    "frequency": period.frequency.value,
                    "year": period.year,
                    "month": period.month,
                    "value": o.value,
                    "status": o.status.value,
                }
            )
        elif before == (o.value, o.status):
            report.observations_unchanged += 1
        else:
            old, new = _shown(*before), _shown(o.value, o.status)
            found.problems.add("OBS-112", "value", o.line, period=key[1], old=old, new=new)
    report.observations_added = len(rows)
    # In key order, rows go in at the end of the table's B-tree rather than all over it.
    # Files list a series' periods in order, so ordering by series suffices (stable sort).
    rows.sort(key=itemgetter("series_id"))
    return rows


def _note_repeats(found: StatisticsFile, keys: list[tuple[int, str]]) -> None:
    """Note the rows that say again what an earlier row said (same series and period).

    Readers refuse repeated rows themselves; this catches rows that differ in the file
    but mean the same."""
    first: dict[tuple[int, str], int] = {}
    for o, key in zip(found.observations, keys, strict=True):
        line = first.setdefault(key, o.line)
        if line != o.line:
            found.problems.add("OBS-104", "row", o.line, first=line)


def _shown(value: float | None, status: str | None = None) -> str:
    if value is None:
        return status or Status.NOT_AVAILABLE.value
    return f"{value:g}"


def _stored_observations(
    session: Session, source_id: int
) -> dict[tuple[int, str], tuple[float | None, str]]:
    o, series = _table(Observation).c, _table(Series).c
    # Core, not ORM, rows: an edition may hold hundreds of thousands.
    rows = session.connection().execute(
        select(o.series_id, o.period, o.value, o.status)
        .join_from(_table(Observation), _table(Series), series.id == o.series_id)
        .where(series.source_id == source_id)
    )
    return {(series_id, period): (value, status) for series_id, period, value, status in rows}


def _new_populations(
    session: Session, source_id: int, found: StatisticsFile, report: ImportReport
) -> list[dict[str, Any]]:
    stored: dict[tuple[str, int, str, str], int] = {}
    if not report.new_source:
        rows = session.execute(
            select(
                Population.area_code,
                Population.year,
                Population.sex,
                Population.age_group,
                Population.value,
            ).where(Population.source_id == source_id)
        )
        stored = {(area, year, sex, age): value for area, year, sex, age, value in rows}
    new: list[dict[str, Any]] = []
    for p in found.populations:
        before = stored.get((p.area_code, p.year, p.sex, p.age_group))
        if before is None:
            new.append(
                {
                    "source_id": source_id,
                    "area_code": p.area_code,
                    "year": p.year,
                    "sex": p.sex,
                    "age_group": p.age_group,
                    "value": p.value,
                }
            )
        elif before == p.value:
            report.populations_unchanged += 1
        else:
            found.problems.add("OBS-112", "value", p.line, period=p.year, old=before, new=p.value)
    report.populations_added = len(new)
    return new


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _insert(
    session: Session, model: Any, rows: Sequence[dict[str, Any]], progress: Progress | None
) -> None:
    """Insert ``rows`` (each with the same columns), one executemany per chunk."""
    if not rows:
        return
    statement = _insert_statement(_table(model), tuple(rows[0]))
    connection = session.connection()
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        statement.execute_many(connection, chunk)
        if progress:
            progress(len(chunk))


@cache
def _insert_statement(table: Table, columns: tuple[str, ...]) -> Prepared:
    """The INSERT of ``columns`` into ``table``: a Core statement compiled once per dialect
    and run on the driver's cursor (SQLAlchemy's own executemany costs as much again as
    SQLite's, for hundreds of thousands of rows)."""
    return Prepared(insert(table).values({name: bindparam(name) for name in columns}))
