"""Published statistics: sources, series of observations, and populations.

A **source** is one edition (vintage) of a publisher's dataset. A **series** is what a
source counts for one combination of dimensions (indicator, ICCS code and/or national
category, area, sex, age group, weapon); its **observations** are the values per
period. A series is public only once it is published (``published``); everything else
stays behind login. **Populations** by area, year, sex and age group carry their own
source, so every rate can say which population it used.

Dimensions that a source does not break down hold ``TOTAL`` (``_T``, as in SDMX), and
a series that has no ICCS code or no national category holds ``NONE`` there (not
NULL, so that the unique constraints hold on both engines).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from atalaya.db import Base, UTCDateTime, utcnow

TOTAL = "_T"
NONE = ""


class SourceType(StrEnum):
    POLICE = "police"
    HEALTH = "health"
    FORENSIC = "forensic"
    VICTIM_SURVEY = "victim_survey"
    # Population estimates and censuses: the denominators of rates.
    DEMOGRAPHIC = "demographic"


class Status(StrEnum):
    FINAL = "final"
    PROVISIONAL = "provisional"
    ESTIMATED = "estimated"
    # Both have no value: never a zero.
    NOT_AVAILABLE = "not_available"
    CONFIDENTIAL = "confidential"


class Frequency(StrEnum):
    ANNUAL = "A"
    QUARTERLY = "Q"
    MONTHLY = "M"


class Source(Base):
    """One edition of a publisher's dataset, as imported."""

    __tablename__ = "stat_sources"
    __table_args__ = (UniqueConstraint("publisher", "dataset", "vintage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    publisher: Mapped[str] = mapped_column(String(100))
    dataset: Mapped[str] = mapped_column(String(200))
    # The edition's date: a later vintage of the same dataset supersedes earlier ones.
    vintage: Mapped[dt.date] = mapped_column(Date)
    source_type: Mapped[SourceType] = mapped_column(String(20))
    # The importer that read it (``sesnsp-idefc``...).
    format: Mapped[str] = mapped_column(String(40))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Public counts from 1 to one less than it are withheld as confidential, with the
    # figures they could be worked out from (``atalaya.observatory.disclosure``); 0
    # withholds none. This node's records: 3; official publishers' statistics, already
    # public: 0 unless the operator sets it (``atalaya stats threshold``).
    disclosure_threshold: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Series(Base):
    """What one source counts for one combination of dimensions."""

    __tablename__ = "stat_series"
    __table_args__ = (
        UniqueConstraint(
            "source_id",
            "indicator",
            "iccs_code",
            "national_scheme",
            "national_code",
            "area_code",
            "sex",
            "age_group",
            "weapon",
        ),
        CheckConstraint("iccs_code <> '' OR national_code <> ''", name="classified"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed first in the unique constraint.
    source_id: Mapped[int] = mapped_column(ForeignKey("stat_sources.id", ondelete="CASCADE"))
    indicator: Mapped[str] = mapped_column(String(40))
    iccs_code: Mapped[str] = mapped_column(String(6), index=True, default=NONE)
    # A crosswalk's scheme (``mx-sesnsp``) and its code, the national category as
    # published (for SESNSP: type|subtype|modality).
    national_scheme: Mapped[str] = mapped_column(String(40), default=NONE)
    national_code: Mapped[str] = mapped_column(String(300), default=NONE)
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"), index=True)
    # The area's path, so that roll-ups and jurisdiction need no join.
    area_path: Mapped[str] = mapped_column(String(200), index=True)
    sex: Mapped[str] = mapped_column(String(10), default=TOTAL)
    age_group: Mapped[str] = mapped_column(String(10), default=TOTAL)
    weapon: Mapped[str] = mapped_column(String(20), default=TOTAL)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    # The roll-up group it belongs to (``SeriesGroup``), set by ``rollups.refresh``;
    # none until then.
    rollup_group: Mapped[int | None] = mapped_column(Integer, index=True, default=None)
    # Whether it is the only series of its family (source, indicator, ICCS code, national
    # category, area): with no total or part beside it, totalling a breakdown never
    # leaves it out, and a query keeps it without looking for one. Set by
    # ``rollups.refresh``; false (look) until then.
    alone: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Observation(Base):
    """A series' value for one period: a month, a quarter or a year.

    ``period`` is its ISO-style label (``2021-03``, ``2021-Q1``, ``2021``); ``year`` and
    ``month`` (the period's first month) let queries roll months up into quarters and
    years. ``value`` is NULL exactly when the status is not available or confidential.
    """

    __tablename__ = "stat_observations"
    __table_args__ = (
        PrimaryKeyConstraint("series_id", "period"),
        CheckConstraint(
            "(value IS NULL) = (status IN ('not_available', 'confidential'))", name="value"
        ),
        # The table is read and written by series: keep its rows together on SQLite too.
        {"sqlite_with_rowid": False},
    )

    series_id: Mapped[int] = mapped_column(ForeignKey("stat_series.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(7))
    frequency: Mapped[Frequency] = mapped_column(String(1))
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    value: Mapped[float | None] = mapped_column(Float)
    status: Mapped[Status] = mapped_column(String(16))


class SeriesYear(Base):
    """A series' year settled from its observations, so that yearly queries read one row
    per series and year instead of up to twelve (``atalaya.observatory.rollups``, which
    alone writes it, from the observations, whenever they change).

    ``value`` adds up the year's longest periods that cover it whole (the year itself,
    its four quarters or its twelve months) and ``observations`` counts them; ``status``
    is the weakest of theirs. A year that no frequency covers whole is not ``complete``
    (its ``value`` is then 0, ``observations`` 1 and ``status`` not available).
    """

    __tablename__ = "stat_series_years"
    __table_args__ = (
        PrimaryKeyConstraint("series_id", "year"),
        {"sqlite_with_rowid": False},
    )

    series_id: Mapped[int] = mapped_column(ForeignKey("stat_series.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    observations: Mapped[int] = mapped_column(Integer)
    status: Mapped[Status] = mapped_column(String(16))
    complete: Mapped[bool] = mapped_column(Boolean)


class SeriesGroup(Base):
    """Series that differ in their area alone, within one subdivision (or country): a
    municipal dataset's category in a state, say. Their settled periods, added up
    (``SeriesGroupPeriod``), answer a query that takes every one of them.

    ``area_path`` is the subdivision's path (the country's, for a country's own series);
    ``members`` how many series are in it. Derived data: ``atalaya.observatory.rollups``
    alone writes it.
    """

    __tablename__ = "stat_series_groups"
    __table_args__ = (
        UniqueConstraint(
            "source_id",
            "indicator",
            "iccs_code",
            "national_scheme",
            "national_code",
            "sex",
            "age_group",
            "weapon",
            "area_path",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("stat_sources.id", ondelete="CASCADE"))
    indicator: Mapped[str] = mapped_column(String(40))
    iccs_code: Mapped[str] = mapped_column(String(6))
    national_scheme: Mapped[str] = mapped_column(String(40))
    national_code: Mapped[str] = mapped_column(String(300))
    sex: Mapped[str] = mapped_column(String(10))
    age_group: Mapped[str] = mapped_column(String(10))
    weapon: Mapped[str] = mapped_column(String(20))
    area_path: Mapped[str] = mapped_column(String(200))
    members: Mapped[int] = mapped_column(Integer)


class SeriesGroupPeriod(Base):
    """A group's members' settled values for one year, quarter or month (``frequency``,
    ``year``, first ``month``), added up as the query adds up series: values and
    observations summed, the weakest status, complete only if every member is. Kept
    for groups of two series or more."""

    __tablename__ = "stat_series_group_periods"
    __table_args__ = (
        PrimaryKeyConstraint("group_id", "frequency", "year", "month"),
        {"sqlite_with_rowid": False},
    )

    group_id: Mapped[int] = mapped_column(ForeignKey("stat_series_groups.id", ondelete="CASCADE"))
    frequency: Mapped[Frequency] = mapped_column(String(1))
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    observations: Mapped[int] = mapped_column(Integer)
    status: Mapped[Status] = mapped_column(String(16))
    complete: Mapped[bool] = mapped_column(Boolean)


class PendingCount(Base):
    """An incident stored by a bulk import whose indicators are not counted yet: the
    import queues it in its batch's transaction, and ``derived.count_pending`` counts it
    and takes it off in one transaction (the worker, ``atalaya stats count``, or the
    import itself at its end)."""

    __tablename__ = "stat_pending_counts"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )


class Population(Base):
    """Inhabitants of an area in a year (mid-year unless the source says otherwise)."""

    __tablename__ = "stat_populations"
    __table_args__ = (
        UniqueConstraint("source_id", "area_code", "year", "sex", "age_group"),
        Index("ix_stat_populations_area_code_year", "area_code", "year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed first in the unique constraint.
    source_id: Mapped[int] = mapped_column(ForeignKey("stat_sources.id", ondelete="CASCADE"))
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"))
    year: Mapped[int] = mapped_column(Integer)
    sex: Mapped[str] = mapped_column(String(10), default=TOTAL)
    age_group: Mapped[str] = mapped_column(String(10), default=TOTAL)
    value: Mapped[int] = mapped_column(BigInteger)


class Measure(StrEnum):
    COUNT = "count"
    RATE_PER_100K = "rate_per_100k"


class NationalPlan(Base):
    """A country's plan with targets (``PlanTarget``); its progress is computed from the
    observatory's data (``atalaya.observatory.targets``). A published plan is open to
    anyone only while every series its targets use is published too."""

    __tablename__ = "stat_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"))
    # The country's path, so that jurisdiction needs no join.
    area_path: Mapped[str] = mapped_column(String(200))
    period_from: Mapped[int] = mapped_column(Integer)
    period_to: Mapped[int] = mapped_column(Integer)
    # Where the plan is published (a title, an address).
    source_document: Mapped[str] = mapped_column(String(500), default=NONE)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PlanTarget(Base):
    """One target of a plan: an indicator for an ICCS code or national category and an
    area, as a count or a rate, from a baseline value and year to a target value and year."""

    __tablename__ = "stat_plan_targets"
    __table_args__ = (
        CheckConstraint("target_year > baseline_year", name="years"),
        CheckConstraint("iccs_code <> '' OR national_category <> ''", name="classified"),
        CheckConstraint("measure IN ('count', 'rate_per_100k')", name="measure"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("stat_plans.id", ondelete="CASCADE"), index=True
    )
    indicator: Mapped[str] = mapped_column(String(40))
    iccs_code: Mapped[str] = mapped_column(String(6), default=NONE)
    # As the query takes it: ``mx-sesnsp:Robo`` or ``Robo``.
    national_category: Mapped[str] = mapped_column(String(340), default=NONE)
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"))
    measure: Mapped[Measure] = mapped_column(String(16))
    # Empty: any; given when several sources would answer (they are never combined).
    source_type: Mapped[str] = mapped_column(String(20), default=NONE)
    baseline_year: Mapped[int] = mapped_column(Integer)
    baseline_value: Mapped[float] = mapped_column(Float)
    target_year: Mapped[int] = mapped_column(Integer)
    target_value: Mapped[float] = mapped_column(Float)
