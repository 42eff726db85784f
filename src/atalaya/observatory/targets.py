"""National plans, their targets, and progress computed from the observatory's data.

A target's **progress** for a year (the latest year with a value from the baseline year
on, or the year asked for):

- the **current value** is the indicator query's (``service.indicator_values``: the same
  roll-ups and rates, as far as the caller may see), from one source: when several
  sources answer and the target names no source type, there is no value (sources are
  never combined);
- the **expected value** lies on the straight line from the baseline to the target:
  ``baseline + (target - baseline) * elapsed / span`` (after the target year, the target);
- a target below its baseline is a reduction, **on track** when the current value is at
  or below the expected one; a target above it, when at or above;
- **done** is the share of the way from baseline to target covered, in percent.

Without a value the status is ``not_available`` with the reasons, never a zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atalaya.accounts.authz import Principal, Scope, authorize
from atalaya.audit import service as audit
from atalaya.audit.service import AuditContext
from atalaya.errors import DomainError, FieldError
from atalaya.geo.service import get_area
from atalaya.i18n import N_, translator
from atalaya.observatory.models import NONE, Measure, NationalPlan, PlanTarget, Series
from atalaya.observatory.query import (
    EVERYTHING,
    OBSERVATION_SOURCE_TYPES,
    IndicatorQuery,
    Note,
    SourceRef,
    Visibility,
    _latest,
    _series,
    _totals,
    check,
)
from atalaya.observatory.schemas import SourceOut
from atalaya.observatory.service import indicator_values
from atalaya.observatory.vocabulary import indicators

ON_TRACK = "on_track"
OFF_TRACK = "off_track"
NOT_AVAILABLE = "not_available"
# Tolerance when comparing the current value with the expected one.
EPSILON = 1e-9


# --- Plans and targets ---------------------------------------------------------------


@dataclass(frozen=True)
class NewPlan:
    code: str
    name: str
    area: str
    period_from: int
    period_to: int
    source_document: str = NONE
    published: bool = False


@dataclass(frozen=True)
class NewTarget:
    indicator: str
    area: str
    baseline_year: int
    baseline_value: float
    target_year: int
    target_value: float
    iccs: str | None = None
    national_category: str | None = None
    measure: str = Measure.COUNT
    source_type: str | None = None


def add_plan(session: Session, ctx: AuditContext, new: NewPlan) -> NationalPlan:
    """Store a national plan (audited ``stats.plan_add``).

    Raises ``ACC-102`` for an unknown area, ``OBS-120`` when the period ends before it
    starts, ``OBS-119`` when the code is taken.
    """
    area = get_area(session, new.area)
    if new.period_to < new.period_from:
        raise DomainError(
            "OBS-120", field="period_to", params={"end": new.period_to, "start": new.period_from}
        )
    if session.scalar(select(NationalPlan.id).where(NationalPlan.code == new.code)) is not None:
        raise DomainError("OBS-119", field="code", params={"code": new.code})
    plan = NationalPlan(
        code=new.code,
        name=new.name,
        area_code=area.code,
        area_path=area.path,
        period_from=new.period_from,
        period_to=new.period_to,
        source_document=new.source_document,
        published=new.published,
    )
    session.add(plan)
    session.flush()
    audit.record(
        session,
        ctx,
        "stats.plan_add",
        object_type="stat_plan",
        object_id=plan.id,
        detail={"code": plan.code, "area": plan.area_code, "published": plan.published},
    )
    return plan


def get_plan(session: Session, code: str) -> NationalPlan:
    """Return the plan with ``code`` or raise ``OBS-118``."""
    plan = session.scalar(select(NationalPlan).where(NationalPlan.code == code))
    if plan is None:
        raise DomainError("OBS-118", field="plan", params={"code": code})
    return plan


def publish_plan(session: Session, ctx: AuditContext, code: str, *, withdraw: bool = False) -> None:
    """Publish (or withdraw) a plan (audited). Raises ``OBS-118`` for an unknown plan."""
    plan = get_plan(session, code)
    plan.published = not withdraw
    audit.record(
        session,
        ctx,
        "stats.plan_withdraw" if withdraw else "stats.plan_publish",
        object_type="stat_plan",
        object_id=plan.id,
        detail={"code": plan.code},
    )


def add_target(session: Session, ctx: AuditContext, code: str, new: NewTarget) -> PlanTarget:
    """Add a target to plan ``code`` (audited ``stats.target_add``); every problem of it
    is raised at once and nothing is stored.

    Raises ``OBS-118`` (plan), ``OBS-116`` (indicator, measure, source type), ``OBS-115``
    (ICCS code), ``OBS-122`` (neither ICCS code nor national category), ``ACC-102`` and
    ``OBS-121`` (area), ``OBS-120`` (target year not after the baseline year).
    """
    plan = get_plan(session, code)
    errors: list[FieldError] = []
    try:
        check(session, target_query(new.indicator, new.iccs, new.national_category, new.area, None))
    except DomainError as error:
        errors += error.errors
    measures = [m.value for m in Measure]
    if new.measure not in measures:
        params: dict[str, object] = {"value": new.measure, "choices": ", ".join(measures)}
        errors.append(_field("measure", "OBS-116", params))
    elif new.measure == Measure.RATE_PER_100K and not _per_capita(new.indicator):
        params = {"value": new.measure, "choices": Measure.COUNT.value}
        errors.append(_field("measure", "OBS-116", params))
    if new.source_type and new.source_type not in OBSERVATION_SOURCE_TYPES:
        params = {"value": new.source_type, "choices": ", ".join(OBSERVATION_SOURCE_TYPES)}
        errors.append(_field("source_type", "OBS-116", params))
    if not new.iccs and not new.national_category:
        errors.append(_field("iccs", "OBS-122", {}))
    if new.target_year <= new.baseline_year:
        params = {"end": new.target_year, "start": new.baseline_year}
        errors.append(_field("target_year", "OBS-120", params))
    if not any(e.field == "area" for e in errors):
        area = get_area(session, new.area)
        if not area.path.startswith(plan.area_path):
            params = {"area": new.area, "country": plan.area_code}
            errors.append(_field("area", "OBS-121", params))
    if errors:
        raise DomainError(errors[0].code, field=errors[0].field, errors=errors)
    target = PlanTarget(
        plan_id=plan.id,
        indicator=new.indicator,
        iccs_code=new.iccs or NONE,
        national_category=new.national_category or NONE,
        area_code=new.area,
        measure=Measure(new.measure),
        source_type=new.source_type or NONE,
        baseline_year=new.baseline_year,
        baseline_value=new.baseline_value,
        target_year=new.target_year,
        target_value=new.target_value,
    )
    session.add(target)
    session.flush()
    audit.record(
        session,
        ctx,
        "stats.target_add",
        object_type="stat_plan",
        object_id=plan.id,
        detail={"code": plan.code, "target": target.id},
    )
    return target


def _per_capita(indicator: str) -> bool:
    """Whether ``indicator`` gets rates (an unknown one is reported as such, not here)."""
    known = indicators().get(indicator)
    return known is None or known.per_capita


def _field(name: str, code: str, params: dict[str, object]) -> FieldError:
    return FieldError(name, code, params)


def target_query(
    indicator: str,
    iccs_code: str | None,
    national_category: str | None,
    area: str,
    source_type: str | None,
    period: str | None = None,
) -> IndicatorQuery:
    return IndicatorQuery(
        indicator=indicator,
        iccs=iccs_code or None,
        national_category=national_category or None,
        area=area,
        period=period,
        frequency=None if period else "A",
        source_type=source_type or None,
    )


def _query_of(target: PlanTarget, period: str | None = None) -> IndicatorQuery:
    return target_query(
        target.indicator,
        target.iccs_code,
        target.national_category,
        target.area_code,
        target.source_type,
        period,
    )


def targets_of(session: Session, plan: NationalPlan) -> list[PlanTarget]:
    return list(
        session.scalars(
            select(PlanTarget).where(PlanTarget.plan_id == plan.id).order_by(PlanTarget.id)
        )
    )


# --- Who may read a plan -------------------------------------------------------------


def is_public(session: Session, plan: NationalPlan) -> bool:
    """Whether anyone may read ``plan``: it is published, and so is every series its
    targets use (of the latest editions, as the query would pick them)."""
    if not plan.published:
        return False
    for target in targets_of(session, plan):
        q = _query_of(target)
        ids = [s.id for s in _totals(q, _latest(_series(session, q, EVERYTHING)))]
        for start in range(0, len(ids), 5000):
            hidden = session.scalar(
                select(func.count())
                .select_from(Series)
                .where(Series.id.in_(ids[start : start + 5000]), Series.published.is_(False))
            )
            if hidden:
                return False
    return True


def readable_plan(session: Session, code: str, who: Principal | None) -> NationalPlan:
    """Return plan ``code`` if ``who`` may read it: anyone when it is public (``is_public``),
    otherwise users with ``stats.read`` whose jurisdiction holds the plan's country.
    Raises ``OBS-118`` otherwise, as for a plan that does not exist."""
    plan = get_plan(session, code)
    if not may_read(session, plan, who):
        raise DomainError("OBS-118", field="plan", params={"code": code})
    return plan


def may_read(session: Session, plan: NationalPlan, who: Principal | None) -> bool:
    if who is not None:
        try:
            authorize(who, "stats.read", Scope(plan.area_path))
            return True
        except DomainError:
            pass
    return is_public(session, plan)


def readable_plans(session: Session, who: Principal | None) -> list[NationalPlan]:
    plans = session.scalars(select(NationalPlan).order_by(NationalPlan.code))
    return [p for p in plans if may_read(session, p, who)]


# --- Progress ------------------------------------------------------------------------


@dataclass
class Progress:
    target: PlanTarget
    year: int | None = None
    current: float | None = None
    expected: float | None = None
    status: str = NOT_AVAILABLE
    done_percent: float | None = None
    arithmetic: str | None = None
    elapsed: int | None = None
    span: int | None = None
    source: SourceRef | None = None
    reasons: list[Note] = field(default_factory=list)

    @property
    def direction(self) -> str:
        t = self.target
        return "increase" if t.target_value > t.baseline_value else "decrease"


def progress(
    session: Session, plan: NationalPlan, visibility: Visibility, year: int | None = None
) -> list[Progress]:
    """Return the progress of each of ``plan``'s targets in ``year`` (or the latest year
    with a value from its baseline year on), from the data ``visibility`` shows."""
    return [target_progress(session, t, visibility, year) for t in targets_of(session, plan)]


def target_progress(
    session: Session, target: PlanTarget, visibility: Visibility, year: int | None = None
) -> Progress:
    found = Progress(target, year)
    if year is not None and year < target.baseline_year:
        message = N_("{year} comes before the baseline year {baseline}.")
        found.reasons.append(Note(message, {"year": year, "baseline": target.baseline_year}))
        return found
    q = _query_of(target, str(year) if year is not None else None)
    values = [
        v
        for v in indicator_values(session, q, visibility)
        if v.key.period.year >= target.baseline_year
    ]
    sources = {v.key.source for v in values}
    if len(sources) > 1:
        message = N_(
            "{count} sources give this value: give the target a source type, so that "
            "they are not combined."
        )
        found.reasons.append(Note(message, {"count": len(sources)}))
        return found
    rate = target.measure == Measure.RATE_PER_100K
    with_value = [v for v in values if (v.rate_per_100k if rate else v.value) is not None]
    if year is None and with_value:
        year = max(v.key.period.year for v in with_value)
    chosen = [v for v in with_value if v.key.period.year == year]
    if not chosen:
        if year is None:
            message = N_("No year from the baseline year {baseline} on has a value.")
            found.reasons.append(Note(message, {"baseline": target.baseline_year}))
        else:
            found.reasons.append(Note(N_("No value for {year}."), {"year": year}))
        for v in values:
            if year is None or v.key.period.year == year:
                found.reasons += v.notes
        return found
    (value,) = chosen
    current = value.rate_per_100k if rate else value.value
    assert current is not None and year is not None
    found.year, found.current, found.source = year, current, value.key.source
    _compare(found, year, current)
    return found


def _compare(found: Progress, year: int, current: float) -> None:
    t = found.target
    span = t.target_year - t.baseline_year
    elapsed = min(year - t.baseline_year, span)
    expected = t.baseline_value + (t.target_value - t.baseline_value) * elapsed / span
    if found.direction == "increase":
        on_track = current >= expected - EPSILON
    else:
        on_track = current <= expected + EPSILON
    found.expected = round(expected, 4)
    found.elapsed, found.span = elapsed, span
    found.status = ON_TRACK if on_track else OFF_TRACK
    if t.target_value != t.baseline_value:
        done = (current - t.baseline_value) / (t.target_value - t.baseline_value) * 100
        found.done_percent = round(done, 1)
    found.arithmetic = (
        f"baseline {t.baseline_year}: {number(t.baseline_value)}; "
        f"target {t.target_year}: {number(t.target_value)}; "
        f"expected {year}: {number(t.baseline_value)} + ({number(t.target_value)} \u2212 "
        f"{number(t.baseline_value)}) \u00d7 {elapsed}/{span} = {number(expected)}; "
        f"current {year}: {number(current)} \u2192 {'on track' if on_track else 'off track'}"
    )


def number(value: float) -> str:
    """``30.1``, ``26.06``, ``2256``: two decimals at most, no trailing zeros."""
    text = f"{round(value, 2):.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


# --- Output --------------------------------------------------------------------------


class TargetOut(BaseModel):
    id: int
    indicator: str
    iccs: str | None
    national_category: str | None
    area: str
    measure: str
    source_type: str | None
    baseline_year: int
    baseline_value: float
    target_year: int
    target_value: float

    @classmethod
    def of(cls, t: PlanTarget) -> TargetOut:
        return cls(
            id=t.id,
            indicator=t.indicator,
            iccs=t.iccs_code or None,
            national_category=t.national_category or None,
            area=t.area_code,
            measure=t.measure,
            source_type=t.source_type or None,
            baseline_year=t.baseline_year,
            baseline_value=t.baseline_value,
            target_year=t.target_year,
            target_value=t.target_value,
        )


class PlanOut(BaseModel):
    code: str
    name: str
    area: str
    period_from: int
    period_to: int
    source_document: str | None
    published: bool
    targets: list[TargetOut]

    @classmethod
    def of(cls, plan: NationalPlan, targets: Iterable[PlanTarget]) -> PlanOut:
        return cls(
            code=plan.code,
            name=plan.name,
            area=plan.area_code,
            period_from=plan.period_from,
            period_to=plan.period_to,
            source_document=plan.source_document or None,
            published=plan.published,
            targets=[TargetOut.of(t) for t in targets],
        )


class ArithmeticOut(BaseModel):
    """How the expected value was computed: baseline + (target - baseline) x elapsed / span."""

    elapsed_years: int
    span_years: int
    text: str


class TargetProgressOut(TargetOut):
    direction: str
    year: int | None
    current_value: float | None
    expected_value: float | None
    status: str
    on_track: bool | None
    done_percent: float | None
    arithmetic: ArithmeticOut | None
    source: SourceOut | None
    reasons: list[str]

    @classmethod
    def of_progress(cls, p: Progress, language: str) -> TargetProgressOut:
        tr = translator(language)
        arithmetic = None
        if p.arithmetic is not None and p.elapsed is not None and p.span is not None:
            arithmetic = ArithmeticOut(
                elapsed_years=p.elapsed, span_years=p.span, text=p.arithmetic
            )
        return cls(
            **TargetOut.of(p.target).model_dump(),
            direction=p.direction,
            year=p.year,
            current_value=p.current,
            expected_value=p.expected,
            status=p.status,
            on_track=None if p.status == NOT_AVAILABLE else p.status == ON_TRACK,
            done_percent=p.done_percent,
            arithmetic=arithmetic,
            source=SourceOut.of(p.source) if p.source else None,
            reasons=[tr.gettext(n.message, **n.params) for n in p.reasons],
        )


class PlanProgressOut(BaseModel):
    plan: str
    name: str
    area: str
    year: int | None
    computed_on: dt.date
    targets: list[TargetProgressOut]


def progress_out(
    session: Session,
    plan: NationalPlan,
    visibility: Visibility,
    language: str,
    year: int | None = None,
) -> PlanProgressOut:
    found = progress(session, plan, visibility, year)
    return PlanProgressOut(
        plan=plan.code,
        name=plan.name,
        area=plan.area_code,
        year=year,
        computed_on=dt.date.today(),
        targets=[TargetProgressOut.of_progress(p, language) for p in found],
    )
