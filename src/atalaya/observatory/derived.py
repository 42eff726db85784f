"""Indicators computed from this node's incident records, kept current as records change.

The records are one more source of the observatory (publisher ``Atalaya``, dataset
``incident records``, source type police), so that the same query, roll-ups, rates,
exports and dashboard serve them. What an incident counts:

- **offences**: each of its offences, under its ICCS code (and national category when
  the record gives one), with a series per weapon beside the total;
- **victims**, **persons_suspected**, **persons_arrested**: each person in that role,
  under the incident's principal offence (the first one listed, as the form asks:
  ICCS's principal offence rule), with series per sex and per age group beside the total.

An incident counts in the month its occurrence starts, in its own area (the roll-up to
states and countries is the query's). An unfounded report counts nothing, and neither
does a restricted incident: a count of one in a municipality and month would tell of a
record that officers of the area may not open, and a series cannot tell its readers
apart. The series stay unpublished (visible to analysts of the area) until an
administrator publishes them (``atalaya stats publish``); a new series joins a published
ICCS code of this source already published. Once published, the public is not given
their counts of 1 and 2 (``DISCLOSURE_THRESHOLD``), nor what those could be worked out
from (``atalaya.observatory.disclosure``). Every value is *provisional*: records change.

The counts are kept by deltas, never by rescanning incidents: each write hands what the
incident counted before and after (``Facts``) to ``record_change``, or a whole batch's
to ``apply``, which adds the difference to the observations of the months concerned in
the same transaction. A series' year is stored whole the first time the series counts in
it (the other months as zero: the register holds every incident, so a month without one
is a true zero), so that the year adds up. ``rebuild`` recomputes everything from the
records, for a node whose records predate this module and as a check.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from atalaya.db import Database, Prepared
from atalaya.observatory import rollups
from atalaya.observatory.imports import SERIES_KEY_COLUMNS, SeriesKey
from atalaya.observatory.models import (
    NONE,
    Frequency,
    Observation,
    PendingCount,
    Series,
    Source,
    SourceType,
    Status,
)
from atalaya.records.models import Incident, Involvement, Offence

PUBLISHER = "Atalaya"
DATASET = "incident records"
FORMAT = "records"
# The edition date of the records source: it is one live edition, kept current.
VINTAGE = dt.date(2026, 1, 1)
# Public counts under it are withheld (``Source.disclosure_threshold``).
DISCLOSURE_THRESHOLD = 3
# Roles of persons counted, and the indicator each counts in.
PERSON_INDICATORS = {
    "victim": "victims",
    "suspect": "persons_suspected",
    "arrested": "persons_arrested",
}
UNKNOWN = "unknown"
# Age groups of persons recorded with an age but no group (records vocabulary).
AGE_GROUPS: tuple[tuple[int, str], ...] = (
    (14, "0-14"), (17, "15-17"), (24, "18-24"), (34, "25-34"), (44, "35-44"), (54, "45-54"),
    (64, "55-64"),
)  # fmt: skip
# Ids per statement (bind parameters are limited on both engines).
CHUNK = 2000

# A month's contribution: series key, year, month -> count.
Delta = Counter[tuple[SeriesKey, int, int]]


@dataclass(frozen=True)
class Facts:
    """What one version of an incident counts: where, when, and its offences and persons."""

    counted: bool
    area_code: str
    area_path: str
    year: int
    month: int
    # (ICCS code, national scheme, national code, weapon), in the record's order.
    offences: tuple[tuple[str, str, str, str], ...]
    # (role, sex, age group) of the persons in a counted role.
    persons: tuple[tuple[str, str, str], ...]


def facts_of_rows(
    incident: Mapping[str, Any],
    area_path: str,
    offences: Iterable[Mapping[str, Any]],
    persons: Iterable[Mapping[str, Any]],
) -> Facts:
    """Return the facts of an incident given as column values (``incidents`` row, and
    rows of ``offences`` and ``involvements``), as the bulk import holds them."""
    start: dt.datetime = incident["occurred_start"]
    ordered = sorted(offences, key=lambda o: o["position"])
    return Facts(
        counted=incident["status"] != "unfounded" and not incident["restricted"],
        area_code=incident["area_code"],
        area_path=area_path,
        year=start.year,
        month=start.month,
        offences=tuple(
            (
                o["iccs_code"],
                o.get("national_scheme") or NONE,
                o.get("national_code") or NONE,
                o.get("weapon") or UNKNOWN,
            )
            for o in ordered
        ),
        persons=tuple(
            (p["role"], p.get("sex") or UNKNOWN, _age_group(p.get("age_group"), p.get("age")))
            for p in sorted(persons, key=lambda p: p["position"])
            if p["role"] in PERSON_INDICATORS
        ),
    )


def facts_of(incident: Any) -> Facts:
    """Return the facts of an ``Incident`` as its attributes hold them now (flushed or
    not)."""
    return facts_of_rows(
        {
            "occurred_start": incident.occurred_start,
            "status": incident.status,
            "restricted": incident.restricted,
            "area_code": incident.area_code,
        },
        incident.area_path,
        (_attributes(o, OFFENCE_COLUMNS) for o in incident.offences),
        (_attributes(p, PERSON_COLUMNS) for p in incident.persons),
    )


OFFENCE_COLUMNS = ("position", "iccs_code", "national_scheme", "national_code", "weapon")
PERSON_COLUMNS = ("position", "role", "sex", "age", "age_group")


def _attributes(part: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(part, name) for name in names}


def _age_group(group: str | None, age: int | None) -> str:
    if group:
        return group
    if age is None:
        return UNKNOWN
    return next((name for upper, name in AGE_GROUPS if age <= upper), "65+")


def contributions(facts: Facts) -> Delta:
    """Return what ``facts`` add to each series and month."""
    delta: Delta = Counter()
    if not facts.counted or not facts.offences:
        return delta
    when = (facts.year, facts.month)
    for code, scheme, national, weapon in facts.offences:
        key = SeriesKey("offences", code, scheme, national, facts.area_code)
        delta[(key, *when)] += 1
        delta[(key._replace(weapon=weapon), *when)] += 1
    code, scheme, national, _ = facts.offences[0]
    for role, sex, age_group in facts.persons:
        indicator = PERSON_INDICATORS[role]
        key = SeriesKey(indicator, code, scheme, national, facts.area_code)
        delta[(key, *when)] += 1
        delta[(key._replace(sex=sex), *when)] += 1
        delta[(key._replace(age_group=age_group), *when)] += 1
    return delta


def change(before: Facts | None, after: Facts | None) -> tuple[Delta, dict[str, str]]:
    """Return the delta from ``before`` to ``after`` (``None``: no incident), and the
    paths of the areas it touches."""
    delta: Delta = Counter()
    paths: dict[str, str] = {}
    for facts, sign in ((before, -1), (after, 1)):
        if facts is None:
            continue
        paths[facts.area_code] = facts.area_path
        for key, count in contributions(facts).items():
            delta[key] += sign * count
    return delta, paths


def record_change(
    session: Session, before: Facts | None, after: Facts | None, incident_id: int | None = None
) -> None:
    """Bring the records' indicators from ``before`` to ``after`` in ``session``'s
    transaction; nothing for an incident still waiting to be counted (``defer``): its
    state when it is counted is what counts."""
    if incident_id is not None and is_pending(session, incident_id):
        return
    apply(session, *change(before, after))


def apply(session: Session, delta: Delta, area_paths: Mapping[str, str]) -> None:
    """Add ``delta`` to the observations of the records source (created on first use);
    ``area_paths`` gives the path of every area in it."""
    delta = Counter({key: count for key, count in delta.items() if count})
    if not delta:
        return
    source_id = _source_id(session)
    series_ids = _series_ids(session, source_id, {key for key, _, _ in delta}, area_paths)
    by_cell: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
    for (key, year, month), count in delta.items():
        by_cell[(series_ids[key], year)][month] = count
    stored = _stored_years(session, list(by_cell))
    rows: list[dict[str, Any]] = []
    for (series_id, year), months in by_cell.items():
        # A series' first count in a year stores the whole year, its other months zero.
        months_written = months if (series_id, year) in stored else dict.fromkeys(range(1, 13), 0)
        if months_written is not months:
            months_written.update(months)
        rows += [_row(series_id, year, month, count) for month, count in months_written.items()]
    rows.sort(key=lambda r: (r["series_id"], r["period"]))
    dialect = session.get_bind().dialect.name
    connection = session.connection()
    _upsert(dialect, Observation).execute_many(connection, rows)
    # Settle the years of the series touched again, and their groups' sums.
    rollups.refresh(session, {cell[0] for cell in by_cell}, {cell[1] for cell in by_cell})


def _row(series_id: int, year: int, month: int, count: int) -> dict[str, Any]:
    return {
        "series_id": series_id,
        "period": f"{year:04d}-{month:02d}",
        "frequency": Frequency.MONTHLY.value,
        "year": year,
        "month": month,
        "value": float(count),
        "status": Status.PROVISIONAL.value,
    }


@cache
def _upsert(dialect: str, model: Any) -> Prepared:
    """INSERT of rows of ``model`` (observations) that adds each value to the one
    already stored under the same key."""
    table = model.__table__
    stmt = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    stmt = stmt.values({column.name: bindparam(column.name) for column in table.columns})
    return Prepared(
        stmt.on_conflict_do_update(
            index_elements=[column.name for column in table.primary_key.columns],
            set_={"value": table.c.value + stmt.excluded.value},
        )
    )


def _source_id(session: Session) -> int:
    """Return the id of the records' source, adding it if it is missing.

    Added with ``ON CONFLICT DO NOTHING`` and read again: on PostgreSQL, two first
    writes of a node may add it at the same time (the soak test found the second one
    failing), and the second then waits for the first and takes its row.
    """
    stmt = select(Source.id).where(
        Source.publisher == PUBLISHER, Source.dataset == DATASET, Source.vintage == VINTAGE
    )
    found = session.scalar(stmt)
    if found is not None:
        return found
    values = {
        "publisher": PUBLISHER,
        "dataset": DATASET,
        "vintage": VINTAGE,
        "source_type": SourceType.POLICE.value,
        "format": FORMAT,
        "disclosure_threshold": DISCLOSURE_THRESHOLD,
    }
    session.execute(_dialect_insert(session, Source).values(values).on_conflict_do_nothing())
    return session.scalars(stmt).one()


def _dialect_insert(session: Session, model: Any) -> Any:
    """Return an INSERT of ``model`` that can say ``ON CONFLICT``, on either engine."""
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(model)


def _series_ids(
    session: Session, source_id: int, keys: set[SeriesKey], area_paths: Mapping[str, str]
) -> dict[SeriesKey, int]:
    """Return the id of each series of ``keys``, adding those the source lacks."""
    areas = sorted({key.area_code for key in keys})

    def stored() -> dict[SeriesKey, int]:
        found: dict[SeriesKey, int] = {}
        for start in range(0, len(areas), CHUNK):
            rows = session.execute(
                select(Series.id, *SERIES_KEY_COLUMNS).where(
                    Series.source_id == source_id,
                    Series.area_code.in_(areas[start : start + CHUNK]),
                )
            )
            found.update((SeriesKey(*key), series_id) for series_id, *key in rows)
        return found

    ids = stored()
    missing = keys - ids.keys()
    if not missing:
        return ids
    published = set(
        session.scalars(
            select(Series.iccs_code)
            .where(Series.source_id == source_id, Series.published)
            .distinct()
        )
    )
    rows = [
        {
            **key._asdict(),
            "source_id": source_id,
            "area_path": area_paths[key.area_code],
            "published": key.iccs_code in published,
            # Until ``rollups.refresh`` says otherwise.
            "alone": False,
        }
        for key in sorted(missing)
    ]
    dialect = session.get_bind().dialect.name
    _insert_series(dialect, tuple(rows[0])).execute_many(session.connection(), rows)
    return stored()


@cache
def _insert_series(dialect: str, columns: tuple[str, ...]) -> Prepared:
    """INSERT of series that leaves alone those another writer added meanwhile (on
    PostgreSQL, concurrent writes may add the same new series)."""
    stmt = (postgresql if dialect == "postgresql" else sqlite).insert(Series)
    return Prepared(
        stmt.values({name: bindparam(name) for name in columns}).on_conflict_do_nothing()
    )


def _stored_years(session: Session, cells: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
    """Return which (series, year) of ``cells`` have observations already."""
    found: set[tuple[int, int]] = set()
    series_ids = sorted({series_id for series_id, _ in cells})
    years = sorted({year for _, year in cells})
    for start in range(0, len(series_ids), CHUNK):
        rows = session.execute(
            select(Observation.series_id, Observation.year)
            .where(
                Observation.series_id.in_(series_ids[start : start + CHUNK]),
                Observation.year.in_(years),
            )
            .distinct()
        )
        found.update((series_id, year) for series_id, year in rows)
    return found


def rebuild(session: Session, batch: int = 5000) -> int:
    """Recompute the records' indicators from every incident; return how many incidents
    were read. Publication of existing series is kept; nothing stays pending."""
    source_id = _source_id(session)
    series = select(Series.id).where(Series.source_id == source_id)
    session.execute(delete(Observation).where(Observation.series_id.in_(series.scalar_subquery())))
    session.execute(delete(PendingCount))
    rollups.refresh(session, session.scalars(series))
    read = 0
    last = 0
    while ids := list(
        session.scalars(
            select(Incident.id).where(Incident.id > last).order_by(Incident.id).limit(batch)
        )
    ):
        last = ids[-1]
        apply(session, *_counted(session, ids))
        read += len(ids)
    return read


def _counted(session: Session, ids: list[int]) -> tuple[Delta, dict[str, str]]:
    """Return what the incidents ``ids`` count, as they are stored, and their areas' paths."""
    columns = (
        Incident.id,
        Incident.occurred_start,
        Incident.status,
        Incident.restricted,
        Incident.area_code,
    )
    incidents = session.execute(
        select(*columns, Incident.area_path).where(Incident.id.in_(ids))
    ).all()
    offences = _parts(session, Offence, ids)
    persons = _parts(session, Involvement, ids)
    delta: Delta = Counter()
    paths: dict[str, str] = {}
    for row in incidents:
        facts = facts_of_rows(dict(row._mapping), row.area_path, offences[row.id], persons[row.id])
        paths[facts.area_code] = facts.area_path
        delta.update(contributions(facts))
    return delta, paths


def defer(session: Session, incident_ids: Sequence[int]) -> None:
    """Queue new incidents to be counted later (``count_pending``), in ``session``'s
    transaction: what a bulk import does, so that storing records does not wait for the
    indicators' upkeep."""
    if incident_ids:
        rows = [{"incident_id": i} for i in incident_ids]
        _insert_pending().execute_many(session.connection(), rows)


@cache
def _insert_pending() -> Prepared:
    return Prepared(insert(PendingCount).values(incident_id=bindparam("incident_id")))


def is_pending(session: Session, incident_id: int) -> bool:
    """Whether ``incident_id`` waits to be counted (its current state will be)."""
    return session.get(PendingCount, incident_id) is not None


def count_pending(session: Session, batch: int = 5000) -> int:
    """Count up to ``batch`` queued incidents as they are now, and take them off the
    queue, in ``session``'s transaction; return how many. Two workers never count the
    same incident: PostgreSQL skips the rows another holds; SQLite has one writer."""
    ids = list(
        session.scalars(
            select(PendingCount.incident_id)
            .order_by(PendingCount.incident_id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        apply(session, *_counted(session, ids))
        session.execute(delete(PendingCount).where(PendingCount.incident_id.in_(ids)))
    return len(ids)


def pending(session: Session) -> int:
    """How many incidents wait to be counted."""
    return session.scalar(select(func.count()).select_from(PendingCount)) or 0


def counting_job(db: Database, batch: int = 5000) -> Callable[[], int]:
    """Return a job for a worker's loop: count one batch of queued incidents, if any (a
    read first, so that an empty queue takes no writer's lock); return how many."""

    def job() -> int:
        with db.read_sessions() as session:
            if session.scalar(select(PendingCount.incident_id).limit(1)) is None:
                return 0
        with db.sessions() as session:
            counted = count_pending(session, batch)
            session.commit()
        return counted

    return job


def _parts(session: Session, model: Any, ids: list[int]) -> dict[int, list[Mapping[str, Any]]]:
    columns = ("incident_id", *(OFFENCE_COLUMNS if model is Offence else PERSON_COLUMNS))
    table = model.__table__
    rows = session.execute(
        select(*(table.c[c] for c in columns)).where(table.c.incident_id.in_(ids))
    )
    found: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        found[row.incident_id].append(dict(row._mapping))
    return found
