"""The observatory's work: importing a file, listing the sources held, publishing series,
and answering indicator queries with their rates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from atalaya.audit import service as audit
from atalaya.audit.service import AuditContext
from atalaya.errors import DomainError
from atalaya.observatory.files import AreaIndex
from atalaya.observatory.formats import reader_for
from atalaya.observatory.imports import ImportReport, Progress, store
from atalaya.observatory.models import Observation, Population, Series, Source
from atalaya.observatory.query import IndicatorQuery, IndicatorValue, Visibility, query
from atalaya.observatory.rates import add_rates


@dataclass(frozen=True)
class ImportProgress:
    """What an import tells as it goes: lines read; then how many rows it will store
    (``storing``) and how many it has (``stored``)."""

    read: Progress | None = None
    storing: Callable[[int], None] | None = None
    stored: Progress | None = None


def import_file(
    session: Session,
    path: Path,
    format: str,
    vintage: dt.date | None,
    ctx: AuditContext,
    progress: ImportProgress = ImportProgress(),
) -> ImportReport:
    """Import the file at ``path`` in ``format`` in ``session``'s transaction; return the
    report. Nothing is committed here: on any error the caller rolls back and the file
    leaves no trace.

    Raises ``OBS-101`` for an unknown format, the file-level errors of its reader
    (``OBS-102``, ``OBS-103``, ``OBS-113``) and ``OBS-110`` listing every row problem.
    """
    read = reader_for(format)
    found = read(path, AreaIndex(session), vintage, progress.read)
    return store(session, found, ctx, progress.storing, progress.stored)


def indicator_values(
    session: Session, q: IndicatorQuery, visibility: Visibility
) -> list[IndicatorValue]:
    """Return the values ``q`` asks for, as far as ``visibility`` allows, with rates per
    100,000 where the indicator has them (``query.query``, ``rates.add_rates``)."""
    values = query(session, q, visibility)
    add_rates(session, values)
    return values


@dataclass(frozen=True)
class SourceSummary:
    source: Source
    series: int
    published: int
    observations: int
    populations: int


def sources(session: Session) -> list[SourceSummary]:
    """Return every source, newest edition first, with how much it holds."""
    series = dict(
        session.execute(select(Series.source_id, func.count()).group_by(Series.source_id)).all()
    )
    published = dict(
        session.execute(
            select(Series.source_id, func.count())
            .where(Series.published)
            .group_by(Series.source_id)
        ).all()
    )
    populations = dict(
        session.execute(
            select(Population.source_id, func.count()).group_by(Population.source_id)
        ).all()
    )
    observations = dict(
        session.execute(
            select(Series.source_id, func.count())
            .join(Observation, Observation.series_id == Series.id)
            .group_by(Series.source_id)
        ).all()
    )
    order = (Source.publisher, Source.dataset, Source.vintage.desc())
    return [
        SourceSummary(
            s,
            series.get(s.id, 0),
            published.get(s.id, 0),
            observations.get(s.id, 0),
            populations.get(s.id, 0),
        )
        for s in session.scalars(select(Source).order_by(*order))
    ]


def publish(
    session: Session,
    ctx: AuditContext,
    source_id: int,
    *,
    iccs: str | None = None,
    withdraw: bool = False,
) -> int:
    """Publish (or withdraw) the series of a source, or those under ICCS code ``iccs``;
    return how many changed. Published series are seen by anyone, without signing in.

    Raises ``OBS-117`` for an unknown source.
    """
    if session.get(Source, source_id) is None:
        raise DomainError("OBS-117", field="source", params={"id": source_id})
    stmt = update(Series).where(Series.source_id == source_id, Series.published == withdraw)
    if iccs:
        stmt = stmt.where(Series.iccs_code.startswith(iccs))
    changed = session.execute(stmt.values(published=not withdraw)).rowcount  # type: ignore[attr-defined]
    audit.record(
        session,
        ctx,
        "stats.withdraw" if withdraw else "stats.publish",
        object_type="stat_source",
        object_id=source_id,
        detail={"iccs": iccs, "series": changed},
    )
    return int(changed)


def threshold_of(session: Session, source_id: int) -> int:
    """Return the count under which the source's public figures are withheld (0: none).

    Raises ``OBS-117`` for an unknown source.
    """
    return _source(session, source_id).disclosure_threshold


def set_threshold(session: Session, ctx: AuditContext, source_id: int, threshold: int) -> int:
    """Withhold the source's public counts under ``threshold`` from now on (0: none; see
    ``atalaya.observatory.disclosure``); return the threshold it had. Audited.

    Raises ``OBS-117`` for an unknown source and ``API-104`` for a negative threshold.
    """
    source = _source(session, source_id)
    if threshold < 0:
        raise DomainError("API-104", field="threshold")
    before, source.disclosure_threshold = source.disclosure_threshold, threshold
    audit.record(
        session,
        ctx,
        "stats.threshold",
        object_type="stat_source",
        object_id=source_id,
        detail={"before": before, "after": threshold},
    )
    return before


def _source(session: Session, source_id: int) -> Source:
    source = session.get(Source, source_id)
    if source is None:
        raise DomainError("OBS-117", field="source", params={"id": source_id})
    return source
