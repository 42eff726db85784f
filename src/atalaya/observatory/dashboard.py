"""The observatory's public dashboard, ``GET /observatory``: published figures without
signing in. A form (plain GET, no script needed) chooses the indicator, the ICCS
category, the area and the year; the page answers with, for each dataset that has
figures:

- the figures of the areas directly below the chosen one (a country's subdivisions) for
  that year, as a bar chart beside a table with the same numbers, and as a tile-grid
  map shaded by the same numbers;
- the chosen area's figures year by year, as a line chart beside its table.

Rates per 100,000 are shown where every figure has a population, counts otherwise (the
page says which). Each chart links to the same query in the API, as JSON and as a CSV
download. Anyone sees the published series; a signed-in user with
``stats.read_unpublished`` also sees the unpublished series of their jurisdiction
(``Visibility.of``), as in ``GET /api/v1/indicators``; the others see small counts, and
the figures they could be worked out from, as *Confidential*
(``atalaya.observatory.disclosure``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated

from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from atalaya.accounts.authz import Principal
from atalaya.accounts.deps import SessionDep, SessionRoute, authenticate, has_credentials
from atalaya.classification import iccs
from atalaya.errors import DomainError, message_for
from atalaya.geo.models import Area
from atalaya.geo.service import children, get_area
from atalaya.i18n import N_, Translator, translator
from atalaya.observatory import charts
from atalaya.observatory.labels import label, number
from atalaya.observatory.models import Frequency, Series
from atalaya.observatory.query import (
    OBSERVATION_SOURCE_TYPES,
    IndicatorQuery,
    IndicatorValue,
    SourceRef,
    Visibility,
    check,
)
from atalaya.observatory.service import indicator_values
from atalaya.observatory.tile_grid import TileLayout, layout_of
from atalaya.observatory.vocabulary import indicators
from atalaya.web.language import request_language
from atalaya.web.pages import render

router = APIRouter(include_in_schema=False, route_class=SessionRoute)

DEFAULT_INDICATOR = "offences"
DEFAULT_ICCS = "01"
# How a panel's figures are measured.
RATE, COUNT, PUBLISHED_RATE = "rate", "count", "published_rate"
MEASURES = {
    RATE: N_("Rates per 100,000 inhabitants, computed on the population shown."),
    COUNT: N_("Counts: a population is not known for every figure, so no rates are shown."),
    PUBLISHED_RATE: N_("Rates per 100,000 inhabitants as the publisher computed them."),
}
NO_FIGURE = N_("No figure published")

Dataset = tuple[str, str, str]


@dataclass(frozen=True)
class Choice:
    """What the form asks for; ``period`` ``None``: the latest year with a figure."""

    indicator: str = DEFAULT_INDICATOR
    iccs: str = DEFAULT_ICCS
    area: str | None = None
    period: str | None = None
    source_type: str | None = None

    def query(self, area: str | None, period: str | None) -> IndicatorQuery:
        frequency = None if period else Frequency.ANNUAL.value
        return IndicatorQuery(
            indicator=self.indicator,
            iccs=self.iccs,
            area=area,
            period=period,
            frequency=frequency,
            source_type=self.source_type,
        )


@dataclass
class Panel:
    """One dataset's figures for a chart and its table: per area (``kind`` ``areas``) or
    per year (``years``), in the order drawn, ``None`` where nothing is published."""

    kind: str
    source: SourceRef
    measure: str
    figures: list[tuple[str, IndicatorValue | None]]
    # The API filters giving the same figures (the chart's download), if one query does.
    filters: dict[str, str] | None
    notes: list[str] = field(default_factory=list)

    def shown(self, v: IndicatorValue | None) -> float | None:
        """Return the number drawn for ``v``: its rate or its value, by the measure."""
        if v is None:
            return None
        return v.rate_per_100k if self.measure == RATE else v.value

    @property
    def sources(self) -> list[SourceRef]:
        return _distinct(v.key.source for _, v in self.figures if v is not None)

    @property
    def populations(self) -> list[SourceRef]:
        return _distinct(
            v.population.source for _, v in self.figures if v is not None and v.population
        )


def _distinct(refs: Iterable[SourceRef]) -> list[SourceRef]:
    return sorted(set(refs), key=lambda s: (s.publisher, s.dataset, s.vintage))


@dataclass
class Dashboard:
    choice: Choice
    area: Area | None = None
    period: str | None = None
    by_area: list[Panel] = field(default_factory=list)
    over_time: list[Panel] = field(default_factory=list)
    layout: TileLayout | None = None


def dashboard(session: Session, choice: Choice, visibility: Visibility) -> Dashboard:
    """Return the figures ``choice`` asks for, as far as ``visibility`` allows.

    Raises the errors of the indicator query's filters, all at once (``OBS-114``,
    ``OBS-115``, ``OBS-116``, ``ACC-102``).
    """
    check(session, choice.query(choice.area, choice.period))
    board = Dashboard(choice)
    if choice.area is None:
        return board
    board.area = get_area(session, choice.area)
    board.over_time = _over_time(session, choice, visibility)
    board.period = choice.period or _latest_year(board.over_time)
    below = sorted(children(session, choice.area), key=lambda a: a.name.casefold())
    if below and board.period:
        board.by_area = _by_area(session, choice, below, board.period, visibility)
        board.layout = layout_of(choice.area, [(a.code, a.name) for a in below])
    return board


def _over_time(session: Session, choice: Choice, visibility: Visibility) -> list[Panel]:
    assert choice.area is not None
    q = choice.query(choice.area, None)
    found: dict[Dataset, dict[str, IndicatorValue]] = defaultdict(dict)
    for v in indicator_values(session, q, visibility):
        found[_dataset(v.key.source)][v.key.period.label] = v
    years = sorted({int(label) for values in found.values() for label in values})
    span = [str(y) for y in range(years[0], years[-1] + 1)] if years else []
    panels = []
    for _, values in sorted(found.items()):
        source = next(iter(values.values())).key.source
        filters = _filters(q, source)
        figures = [(year, values.get(year)) for year in span]
        panels.append(_panel("years", source, choice.indicator, figures, filters))
    return panels


def _latest_year(panels: list[Panel]) -> str | None:
    years = [code for p in panels for code, v in p.figures if v is not None and v.value is not None]
    return max(years, default=None)


def _by_area(
    session: Session, choice: Choice, below: list[Area], period: str, visibility: Visibility
) -> list[Panel]:
    """Return one panel per dataset with the figure of each area in ``below``, each
    asked for on its own so that it is rolled up from the areas inside it."""
    found: dict[Dataset, dict[str, IndicatorValue]] = defaultdict(dict)
    for area in below:
        for v in indicator_values(session, choice.query(area.code, period), visibility):
            found[_dataset(v.key.source)][area.code] = v
    panels = []
    for _, values in sorted(found.items()):
        source = next(iter(values.values())).key.source
        figures = [(a.code, values.get(a.code)) for a in below]
        panels.append(_panel("areas", source, choice.indicator, figures, None))
    return panels


def _panel(
    kind: str,
    source: SourceRef,
    indicator: str,
    figures: list[tuple[str, IndicatorValue | None]],
    filters: dict[str, str] | None,
) -> Panel:
    values = [v for _, v in figures if v is not None]
    return Panel(kind, source, _measure(indicator, values), figures, filters)


def _measure(indicator: str, values: list[IndicatorValue]) -> str:
    """Rates where the indicator has them and every figure with a value has one."""
    about = indicators()[indicator]
    if not about.additive:
        return PUBLISHED_RATE
    with_value = [v for v in values if v.value is not None]
    if about.per_capita and with_value and all(v.rate_per_100k is not None for v in with_value):
        return RATE
    return COUNT


def _dataset(source: SourceRef) -> Dataset:
    return (source.publisher, source.dataset, source.source_type)


def _filters(q: IndicatorQuery, source: SourceRef) -> dict[str, str]:
    """Return the API filters of ``q`` for one dataset's source type."""
    given = {
        "indicator": q.indicator,
        "iccs": q.iccs,
        "area": q.area,
        "period": q.period,
        "frequency": q.frequency,
        "source_type": source.source_type,
    }
    return {k: v for k, v in given.items() if v}


def row_filters(choice: Choice, area: str, period: str, source: SourceRef) -> dict[str, str]:
    """Return the API filters giving one area's figure of a by-area panel."""
    return _filters(choice.query(area, period), source)


def visible_countries(session: Session, visibility: Visibility) -> list[Area]:
    """Return the countries holding series the caller may see, by name."""
    stmt = select(Series.area_path).distinct()
    within = visibility.unpublished_within
    if within is None:
        stmt = stmt.where(Series.published)
    else:
        # As ``query._series`` does: published, or unpublished inside the jurisdiction.
        stmt = stmt.where(
            or_(Series.published, Series.area_path.startswith(within, autoescape=True))
        )
    codes = {path.strip("/").split("/")[0] for path in session.scalars(stmt)}
    return list(session.scalars(select(Area).where(Area.code.in_(codes)).order_by(Area.name)))


async def visitor(request: Request) -> Principal | None:
    """Return the signed-in user, or ``None`` for anyone else. The page is public: a
    session that has expired or still owes its second factor reads it as anyone does,
    rather than being sent to sign in."""
    if not has_credentials(request):
        return None
    try:
        return await authenticate(request)
    except DomainError as error:
        if error.code.startswith("AUTH-"):
            return None
        raise


VisitorDep = Annotated[Principal | None, Depends(visitor)]
Text = Annotated[str, Query(max_length=40)]


@router.get("/observatory")
def dashboard_page(
    request: Request,
    session: SessionDep,
    who: VisitorDep,
    indicator: Text = DEFAULT_INDICATOR,
    iccs_code: Annotated[str, Query(alias="iccs", max_length=6)] = DEFAULT_ICCS,
    area: Text = "",
    period: Annotated[str, Query(max_length=7)] = "",
    source_type: Text = "",
) -> Response:
    """The public dashboard: the published figures the form chooses (see the module)."""
    visibility = Visibility.of(who)
    choice = Choice(indicator, iccs_code, area or None, period or None, source_type or None)
    language = request_language(request)
    tr = translator(language)
    errors: list[tuple[str, str, str]] = []
    try:
        board = dashboard(session, choice, visibility)
    except DomainError as error:
        found = error.errors or []
        pairs = [(e.field, e.code, e.params) for e in found] or [
            (error.field or "form", error.code, error.params)
        ]
        errors = [(name, code, message_for(code, tr, params)) for name, code, params in pairs]
        board = Dashboard(choice)
    names = _area_names(session, board, language)
    full, short = _formatter(language), _formatter(language, "#,##0.#")
    context = {
        "board": board,
        "by_area": [_drawn(p, names, tr, short, board.layout) for p in board.by_area],
        "over_time": [_drawn(p, names, tr, short, None) for p in board.over_time],
        "errors": {name: (code, message) for name, code, message in reversed(errors)},
        "choices": _choices(session, visibility, board, language),
        "fmt": full,
        "measures": MEASURES,
        "no_figure": NO_FIGURE,
        "label": lambda dimension, code: label(dimension, code, tr),
        "number": number,
        "row_filters": row_filters,
        "area_names": names,
        "category": _category(choice.iccs, language),
    }
    return render(request, "observatory/dashboard.html", context, status=422 if errors else 200)


@dataclass(frozen=True)
class Drawn:
    """A panel ready to draw: its figures as chart data, its chart, and its map."""

    panel: Panel
    data: list[charts.Datum]
    chart: charts.BarChart | charts.LineChart
    map: charts.TileMap | None
    # The figures' notes in the reader's language, each once.
    notes: list[str]


def _drawn(
    panel: Panel,
    names: dict[str, str],
    tr: Translator,
    fmt: charts.Format,
    layout: TileLayout | None,
) -> Drawn:
    data = []
    notes = list(
        dict.fromkeys(
            tr.gettext(n.message, **n.params) for _, v in panel.figures if v for n in v.notes
        )
    )
    for code, v in panel.figures:
        shown = panel.shown(v)
        if shown is not None:
            text = fmt(shown)
        else:
            text = label("status", v.status, tr) if v is not None else tr.gettext(NO_FIGURE)
        data.append(charts.Datum(code, names.get(code, code), shown, text))
    if panel.kind == "years":
        return Drawn(panel, data, charts.line_chart(data, fmt), None, notes)
    tiles = charts.tile_map(data, layout, fmt) if layout is not None else None
    return Drawn(panel, data, charts.bar_chart(data, fmt), tiles, notes)


def _formatter(language: str, pattern: str | None = None) -> charts.Format:
    def fmt(value: float) -> str:
        if pattern is None:
            return str(format_decimal(value, locale=language, decimal_quantization=False))
        return str(format_decimal(value, format=pattern, locale=language))

    return fmt


def _by_name(areas: Iterable[Area], language: str) -> list[Area]:
    return sorted(areas, key=lambda a: a.name_in(language).casefold())


def _category(code: str, language: str) -> str:
    """Return the ICCS code with its name (the code alone if there is no such code)."""
    tree = iccs()
    return f"{code} {tree.name(code, language)}" if code in tree else code


def _area_names(session: Session, board: Dashboard, language: str) -> dict[str, str]:
    codes = {code for p in board.by_area for code, _ in p.figures}
    if board.area is not None:
        codes.add(board.area.code)
    areas = select(Area).where(Area.code.in_(codes))
    return {a.code: a.name_in(language) for a in session.scalars(areas)} if codes else {}


@dataclass(frozen=True)
class Choices:
    indicators: list[str]
    iccs: list[tuple[str, str, int]]
    countries: list[tuple[Area, list[Area]]]
    years: list[str]
    source_types: tuple[str, ...]

    @property
    def iccs_codes(self) -> set[str]:
        return {code for code, _, _ in self.iccs}

    @property
    def area_codes(self) -> set[str]:
        return {a.code for country, below in self.countries for a in (country, *below)}


def _choices(session: Session, visibility: Visibility, board: Dashboard, language: str) -> Choices:
    """Return the options of the form: indicators, ICCS sections and divisions, the
    countries with figures the caller may see and their subdivisions, the years of the
    chosen area's figures."""
    tree = iccs()
    codes = [
        (c.code, tree.name(c.code, language), 0 if c.level == "section" else 1)
        for c in tree
        if c.level in ("section", "division")
    ]
    countries = visible_countries(session, visibility)
    if board.area is not None and board.area.country_code not in {c.code for c in countries}:
        country = session.get(Area, board.area.country_code)
        countries.append(country if country is not None else board.area)
    nested = [(c, _by_name(children(session, c.code), language)) for c in countries]
    years = sorted({code for p in board.over_time for code, _ in p.figures}, reverse=True)
    if board.choice.period and board.choice.period not in years:
        years.insert(0, board.choice.period)
    return Choices(list(indicators()), codes, nested, years, OBSERVATION_SOURCE_TYPES)
