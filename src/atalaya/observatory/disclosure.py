"""Statistical disclosure control: the public figures withheld as confidential.

In the public's view (published series, as anyone sees them: ``Visibility.public``), a
source with a threshold (``Source.disclosure_threshold``: 3 for this node's records, 0
for statistics imported from official publishers, which are public already) never
shows a count from 1 to one less than its threshold (**primary suppression**), nor a
figure from which such a count could be worked out by subtraction (**complementary
suppression**). A withheld figure is ``confidential``: no value, no rate.

How the complements are chosen (``atalaya.observatory.suppression``), for each
**table**: the figures the public can ask of one source, indicator, country and year:

- its **cells**: each area of the country rolled up with the areas below it, and each
  area's own figure (what is stored under it, which a query without an area lists);
  the same for ICCS codes; each month, quarter and the year; each breakdown (sex, age
  group, weapon) and its total. Zeros are shown (they tell of nobody);
- its **equations**, a total and the parts it adds up to: an area, its own figure and
  the areas right below it; an ICCS code, its own figure and the codes right below it;
  a quarter and its months, a year and its quarters, a year and its months; a
  breakdown's total and its values;
- the **rule**: no equation may have exactly one withheld figure, which its total less
  the others would give. Starting from the small counts, while an equation has exactly
  one, the smallest non-zero part shown (the first in code order on a tie) is withheld
  too, or, when every part is zero or withheld, the total.

The table is built from the published series alone and the result is cached by what the
table holds, so that a figure is withheld in every answer that gives it, whatever the
query (the API, exports, SDMX, the dashboard), and stays so until the figures change.
Figures broken down or filtered by national category are withheld whole for such
sources: ICCS is the comparable classification, and the national categories of a
record would be one more set of equations. The rule keeps any one equation from giving
a withheld figure away; it is not an audit against every combination of equations, and
it takes a source's breakdowns and periods as adding up to their totals, as the node's
records do.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, event, exists, select
from sqlalchemy.orm import Session

from atalaya.geo.models import Area
from atalaya.observatory.models import Observation, Series, SeriesYear, Source
from atalaya.observatory.suppression import (
    Node,
    ObservationFacts,
    SeriesFacts,
    Table,
    build_table,
    withheld_cells,
)
from atalaya.observatory.vocabulary import indicators

if TYPE_CHECKING:
    from atalaya.observatory.query import IndicatorQuery, IndicatorValue


@dataclass(frozen=True)
class Pattern:
    """A table and the figures it withholds."""

    table: Table
    withheld: frozenset[int]

    def withholds(self, coordinates: Sequence[Node]) -> bool:
        """Whether the figure at ``coordinates`` is withheld (``number``)."""
        return self.number(coordinates) in self.withheld

    def number(self, coordinates: Sequence[Node]) -> int | None:
        """Return the number of the figure at ``coordinates`` (area and own, code and own,
        period, breakdown; ``None``: zero). An area or code with nothing below it has no
        own figure apart: it is taken rolled up."""
        area, code, period, breakdown = coordinates
        areas, codes = self.table.dimensions[:2]
        if area not in areas.index:
            area = (area[0], False)
        if code not in codes.index:
            code = (code[0], False)
        return self.table.number((area, code, period, breakdown))


class PatternCache:
    """Patterns by a digest of the figures they were computed from (a few per process:
    the tables of the current year change with every record, the others seldom)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._found: OrderedDict[bytes, Pattern] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: bytes) -> Pattern | None:
        with self._lock:
            found = self._found.get(digest)
            if found is not None:
                self._found.move_to_end(digest)
            return found

    def put(self, digest: bytes, pattern: Pattern) -> None:
        with self._lock:
            self._found[digest] = pattern
            while len(self._found) > self.size:
                self._found.popitem(last=False)


# Tables' patterns kept per process, by what the table holds.
PATTERNS = PatternCache(64)
TableKey = tuple[int, str, str, int]  # source, indicator, country path, year


def pattern(session: Session, key: TableKey, threshold: int) -> Pattern:
    """Return what the public's table ``key`` withholds under ``threshold``: kept for the
    rest of ``session``'s transaction until it writes (a page asks many queries of one
    table), and in ``PATTERNS`` while the table holds the same figures."""
    memo = _memo(session)
    found = memo.get((key, threshold))
    if found is not None:
        return found
    series, observations = _published(session, key)
    digest = hashlib.blake2b(repr((threshold, series, observations)).encode()).digest()
    found = PATTERNS.get(digest)
    if found is None:
        table = build_table(series, observations)
        found = Pattern(table, frozenset(withheld_cells(table, threshold)))
        PATTERNS.put(digest, found)
    memo[(key, threshold)] = found
    return found


MEMO = "atalaya.disclosure.patterns"


def _memo(session: Session) -> dict[tuple[TableKey, int], Pattern]:
    """Return the patterns found in ``session``'s transaction, forgotten when it writes,
    commits or rolls back."""
    memo: dict[tuple[TableKey, int], Pattern] | None = session.info.get(MEMO)
    if memo is None:
        memo = session.info[MEMO] = {}
        for name in ("after_flush", "after_commit", "after_soft_rollback"):
            event.listen(session, name, lambda *_: memo.clear())
    return memo


def _published(session: Session, key: TableKey) -> tuple[list[SeriesFacts], list[ObservationFacts]]:
    """Return the published series of table ``key`` that count in its year, and their
    non-zero observations of it."""
    source_id, indicator, country_path, year = key
    where: list[ColumnElement[bool]] = [
        Series.source_id == source_id,
        Series.indicator == indicator,
        Series.published.is_(True),
        Series.area_path.startswith(country_path, autoescape=True),
    ]
    counts = exists().where(SeriesYear.series_id == Series.id, SeriesYear.year == year)
    columns = (Series.area_path, Series.iccs_code, Series.national_scheme, Series.national_code)
    series = session.execute(
        select(Series.id, *columns, Series.sex, Series.age_group, Series.weapon)
        .where(*where, counts)
        .order_by(Series.id)
    )
    o = Observation
    observations = session.execute(
        select(o.series_id, o.frequency, o.month, o.value)
        .join(Series, Series.id == o.series_id)
        .where(*where, o.period >= str(year), o.period < str(year + 1), o.value != 0)
        .order_by(o.series_id, o.period)
    )
    return [tuple(s) for s in series], [tuple(o) for o in observations]  # type: ignore[misc]


def withheld(
    session: Session, q: IndicatorQuery, values: list[IndicatorValue]
) -> list[IndicatorValue]:
    """Return those of ``values`` (the public's answer to ``q``) to withhold: counts of a
    source with a threshold that the rule withholds, or under the threshold (which the
    table finds too, unless the answer's own adding up differs from it)."""
    thresholds = _thresholds(session, {v.key.source.id for v in values})
    at_risk = [
        v
        for v in values
        if thresholds.get(v.key.source.id, 0) > 0
        and v.value is not None
        and indicators()[v.key.indicator].additive
    ]
    if not at_risk or q.national_category or "national_category" in q.by:
        return at_risk
    paths = _area_paths(session, {v.key.area for v in at_risk})
    patterns: dict[TableKey, Pattern] = {}
    found = []
    for v in at_risk:
        threshold = thresholds[v.key.source.id]
        country = "/" + paths[v.key.area].strip("/").split("/")[0] + "/"
        key = (v.key.source.id, v.key.indicator, country, v.key.period.year)
        if key not in patterns:
            patterns[key] = pattern(session, key, threshold)
        assert v.value is not None
        if 0 < v.value < threshold or patterns[key].withholds(coordinates_of(q, v)):
            found.append(v)
    return found


def coordinates_of(q: IndicatorQuery, v: IndicatorValue) -> tuple[Node, ...]:
    """Return the coordinates in its table of the figure ``v`` gives: an area or code
    asked for is rolled up, one listed as stored is its own (``query._key``)."""
    k = v.key
    return (
        (k.area, q.area is None),
        (q.iccs or k.iccs or "", q.iccs is None),
        (k.period.frequency.value, k.period.month),
        (k.sex, k.age_group, k.weapon),
    )


def _thresholds(session: Session, source_ids: set[int]) -> dict[int, int]:
    if not source_ids:
        return {}
    rows = session.execute(
        select(Source.id, Source.disclosure_threshold).where(Source.id.in_(source_ids))
    )
    return {source_id: threshold for source_id, threshold in rows}


def _area_paths(session: Session, codes: set[str]) -> dict[str, str]:
    rows = session.execute(select(Area.code, Area.path).where(Area.code.in_(codes)))
    return {code: path for code, path in rows}
