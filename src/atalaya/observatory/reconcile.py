"""Reconciliation of police and health homicide series: for each area and year, the two
values side by side, their ratio (police over health) and whether it lies outside a band.

Both sides are the indicator ``victims`` (victims of intentional homicide: what health
sources count, and what police sources such as SNIC, the Colombian Police and UNODC's
police series give) under ICCS ``0101``, yearly, each asked of the indicator query
(``query.query``) with its own ``source_type``: the two are never added together, nor
put in one query. ``offences`` (SESNSP's investigation files) count cases, not victims,
and are not used.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from atalaya.errors import DomainError, FieldError
from atalaya.geo.service import children, get_area
from atalaya.observatory.models import SourceType
from atalaya.observatory.query import IndicatorQuery, IndicatorValue, SourceRef, Visibility, query

INDICATOR = "victims"
HOMICIDE = "0101"
BAND = (0.8, 1.25)
SIDES = (SourceType.POLICE.value, SourceType.HEALTH.value)
# Why there is no ratio.
NO_POLICE = "no_police_value"
NO_HEALTH = "no_health_value"
SEVERAL_POLICE = "several_police_sources"
SEVERAL_HEALTH = "several_health_sources"
HEALTH_ZERO = "health_zero"


@dataclass(frozen=True)
class Side:
    """One source type's value for an area and year (``None``: not available)."""

    value: float | None
    status: str
    source: SourceRef


@dataclass(frozen=True)
class Reconciliation:
    area: str
    year: int
    police: Side | None
    health: Side | None
    ratio: float | None
    outside_band: bool | None
    # Why there is no ratio (``None`` when there is one).
    reason: str | None
    low: float
    high: float


def check_band(low: float, high: float) -> None:
    """Raise ``API-104`` (naming each bound) unless ``0 < low < high``."""
    errors = [FieldError(name, "API-104") for name, bound in (("low", low), ("high", high))
              if bound <= 0]  # fmt: skip
    if not errors and low >= high:
        errors.append(FieldError("high", "API-104"))
    if errors:
        raise DomainError("API-104", field=errors[0].field, errors=errors)


def reconcile(
    session: Session,
    visibility: Visibility,
    area: str | None = None,
    years: Iterable[int] = (),
    iccs: str = HOMICIDE,
    band: tuple[float, float] = BAND,
    by_area: bool = False,
) -> list[Reconciliation]:
    """Return, per area and year, the police and the health value of ``iccs`` victims, as
    far as ``visibility`` allows, with their ratio and whether it is outside ``band``
    (inclusive bounds). ``area`` ``None``: each area as stored; ``by_area``: each area
    directly below ``area``. ``years`` empty: every year with a value of either side.

    Raises ``API-104`` for a bad band and the indicator query's errors (``ACC-102``,
    ``OBS-115``...)."""
    low, high = band
    check_band(low, high)
    if area is not None:
        get_area(session, area)
    wanted = sorted(set(years))
    areas: list[str | None] = [area]
    if by_area:
        areas = [a.code for a in children(session, area)]
    found: dict[tuple[str, int], dict[str, list[IndicatorValue]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for where in areas:
        for side in SIDES:
            q = IndicatorQuery(INDICATOR, iccs, area=where, frequency="A", source_type=side)
            for v in query(session, q, visibility):
                if not wanted or v.key.period.year in wanted:
                    found[(v.key.area, v.key.period.year)][side].append(v)
    keys = set(found)
    if area is not None and not by_area:
        keys |= {(area, year) for year in wanted}
    return [_reconciled(a, y, found.get((a, y), {}), low, high) for a, y in sorted(keys)]


def _reconciled(
    area: str, year: int, sides: dict[str, list[IndicatorValue]], low: float, high: float
) -> Reconciliation:
    police, health = (_side(sides.get(side, [])) for side in SIDES)
    reason = None
    if len(sides.get(SourceType.POLICE.value, [])) > 1:
        reason = SEVERAL_POLICE
    elif police is None or police.value is None:
        reason = NO_POLICE
    elif len(sides.get(SourceType.HEALTH.value, [])) > 1:
        reason = SEVERAL_HEALTH
    elif health is None or health.value is None:
        reason = NO_HEALTH
    elif health.value == 0:
        reason = HEALTH_ZERO
    ratio = outside = None
    if reason is None and police is not None and health is not None:
        assert police.value is not None and health.value is not None
        raw = police.value / health.value
        ratio, outside = round(raw, 4), not low <= raw <= high
    return Reconciliation(area, year, police, health, ratio, outside, reason, low, high)


def _side(values: list[IndicatorValue]) -> Side | None:
    """One source's value; several sources of one type are not chosen between."""
    if len(values) != 1:
        return None
    (v,) = values
    return Side(v.value, v.status.value, v.key.source)


def as_dict(r: Reconciliation) -> dict[str, object]:
    """``r`` as the API and ``stats reconcile --format json`` give it."""

    def side(s: Side | None) -> dict[str, object] | None:
        if s is None:
            return None
        source = {
            "publisher": s.source.publisher,
            "dataset": s.source.dataset,
            "vintage": s.source.vintage.isoformat(),
            "source_type": s.source.source_type,
        }
        return {"value": s.value, "status": s.status, "source": source}

    return {
        "area": r.area,
        "year": r.year,
        "police": side(r.police),
        "health": side(r.health),
        "ratio": r.ratio,
        "outside_band": r.outside_band,
        "reason": r.reason,
        "band": {"low": r.low, "high": r.high},
    }
