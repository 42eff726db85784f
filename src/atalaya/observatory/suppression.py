"""Tables of figures and the rule of complementary suppression, worked out in Python
(``atalaya.observatory.disclosure`` says which public figures they withhold).

A **table** holds the figures the public can ask of one source, indicator, country and
year, and its **equations**: each total with the parts that add up to it, within one
dimension (areas, ICCS codes, periods, breakdowns). ``withheld_cells`` withholds the
small counts, then, while an equation has exactly one figure withheld, the smallest
non-zero part still shown (or the total). Figures are numbered (mixed-radix over the
four dimensions) so that the rule runs on integers: a table of the demo's largest
(90,000 figures) takes about half a second.
"""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from atalaya.classification import iccs
from atalaya.observatory.models import TOTAL

# Kinds of equations, each within one dimension of a table: an area and the areas right
# below it (with its own figure), the same for ICCS codes; a quarter and its months, a
# year and its quarters, a year and its months; a breakdown's total and its values.
AREA_SUM, CODE_SUM, QUARTER_OF_MONTHS, YEAR_OF_QUARTERS, YEAR_OF_MONTHS = range(5)
SEX_SUM, AGE_SUM, WEAPON_SUM = range(5, 8)
KINDS = 8
# A figure's coordinates: an area and whether it is the area's own figure (without the
# areas below it: an area with nothing below has one figure, not own); the same for an
# ICCS code; a period (frequency and first month); a breakdown (sex, age group, weapon).
Node = tuple[Any, ...]
# The months, quarters and year of a table's year.
QUARTERS = (1, 4, 7, 10)
PERIODS: tuple[Node, ...] = (
    *(("M", m) for m in range(1, 13)),
    *(("Q", m) for m in QUARTERS),
    ("A", 1),
)


class Dimension:
    """One dimension of a table: its nodes, numbered, and its equations: each node's
    totals (kind and node) and the parts of each node that is a total (by kind)."""

    def __init__(self, nodes: Iterable[Node]) -> None:
        self.nodes = sorted(set(nodes))
        self.index = {node: n for n, node in enumerate(self.nodes)}
        self.totals: list[list[tuple[int, int]]] = [[] for _ in self.nodes]
        self.parts: list[dict[int, list[int]]] = [{} for _ in self.nodes]

    def add(self, kind: int, total: Node, parts: Iterable[Node]) -> None:
        """Add the equation ``total`` = the sum of ``parts`` (those that are nodes)."""
        t = self.index.get(total)
        numbered = [self.index[p] for p in parts if p in self.index]
        if t is None or not numbered:
            return
        self.parts[t][kind] = numbered
        for p in numbered:
            self.totals[p].append((kind, t))


class Table:
    """The non-zero figures of one table (any other is zero), numbered: a figure's number
    is its coordinates' numbers in the four dimensions (area, ICCS code, period,
    breakdown), mixed-radix."""

    def __init__(self, dimensions: tuple[Dimension, ...], values: dict[int, float]) -> None:
        self.dimensions = dimensions
        self.values = values
        sizes = [len(d.nodes) for d in dimensions]
        self.strides = tuple(_product(sizes[n + 1 :]) for n in range(len(sizes)))

    def number(self, coordinates: Sequence[Node]) -> int | None:
        """Return the number of the figure at ``coordinates`` (``None``: zero)."""
        found = 0
        for dimension, stride, node in zip(self.dimensions, self.strides, coordinates, strict=True):
            n = dimension.index.get(node)
            if n is None:
                return None
            found += n * stride
        return found

    def coordinates(self, cell: int) -> list[int]:
        found = []
        for stride in self.strides:
            n, cell = divmod(cell, stride)
            found.append(n)
        return found

    def equations(self, cell: int) -> Iterator[int]:
        """Yield the equations ``cell`` is in, each numbered by its total and kind."""
        for d, n in enumerate(self.coordinates(cell)):
            dimension, stride = self.dimensions[d], self.strides[d]
            for kind in dimension.parts[n]:
                yield cell * KINDS + kind
            for kind, total in dimension.totals[n]:
                yield (cell + (total - n) * stride) * KINDS + kind

    def terms(self, equation: int) -> tuple[int, list[int]]:
        """Return the total of ``equation`` and its parts."""
        total, kind = divmod(equation, KINDS)
        d = DIMENSION_OF[kind]
        n = self.coordinates(total)[d]
        stride = self.strides[d]
        return total, [total + (p - n) * stride for p in self.dimensions[d].parts[n][kind]]


# The dimension (area, ICCS code, period, breakdown) of each kind of equation.
DIMENSION_OF = (0, 1, 2, 2, 2, 3, 3, 3)


def _product(sizes: Sequence[int]) -> int:
    found = 1
    for size in sizes:
        found *= size
    return found


def withheld_cells(table: Table, threshold: int) -> set[int]:
    """Return the figures of ``table`` withheld: those from 1 to ``threshold`` - 1, and
    the complements the rule adds (see the module), in a repeatable order."""
    withheld: set[int] = set()
    unknowns: dict[int, int] = defaultdict(int)
    waiting: deque[int] = deque()

    def withhold(cell: int) -> None:
        withheld.add(cell)
        for equation in table.equations(cell):
            unknowns[equation] += 1
            if unknowns[equation] == 1:
                waiting.append(equation)

    for cell in sorted(c for c, value in table.values.items() if 0 < value < threshold):
        withhold(cell)
    while waiting:
        equation = waiting.popleft()
        if unknowns[equation] == 1:
            extra = _complement(table, *table.terms(equation), withheld)
            if extra is not None:
                withhold(extra)
    return withheld


def _complement(table: Table, total: int, parts: list[int], withheld: set[int]) -> int | None:
    """Return the smallest non-zero part shown (the first in order on a tie), else the
    total if shown and non-zero."""
    values = table.values
    shown = [p for p in parts if p not in withheld and values.get(p, 0) > 0]
    if shown:
        return min(shown, key=lambda p: (values[p], p))
    if total not in withheld and values.get(total, 0) > 0:
        return total
    return None


# What a table is built from: series (id, area path, ICCS code, national scheme and code,
# sex, age group, weapon) and their non-zero observations (series, frequency, month,
# value).
SeriesFacts = tuple[int, str, str, str, str, str, str, str]
ObservationFacts = tuple[int, str, int, float]
FINEST = {"M": 0, "Q": 1, "A": 2}


def build_table(series: Sequence[SeriesFacts], observations: Sequence[ObservationFacts]) -> Table:
    """Return the table of ``series`` and their observations of one year: each series'
    finest periods, rolled up to every area, ICCS code, period and breakdown the query
    would add it to."""
    finest: dict[int, str] = {}
    for series_id, frequency, _, _ in observations:
        if series_id not in finest or FINEST[frequency] < FINEST[finest[series_id]]:
            finest[series_id] = frequency
    counted = [s for s in series if s[0] in finest]
    targets = _breakdown_targets(series)
    areas = _hierarchy(AREA_SUM, [_area_line(s[1]) for s in counted])
    codes = _hierarchy(CODE_SUM, [_code_line(s[2]) for s in counted])
    breakdowns = _breakdowns({b for s in counted for b in targets[s[0]]})
    periods = _periods()
    table = Table((areas, codes, periods, breakdowns), {})
    s_area, s_code, s_period, _ = table.strides
    bases: dict[int, list[int]] = {}
    for s in counted:
        bases[s[0]] = [
            areas.index[a] * s_area + codes.index[c] * s_code + breakdowns.index[b]
            for a in _nodes_of(areas, _area_line(s[1]))
            for c in _nodes_of(codes, _code_line(s[2]))
            for b in targets[s[0]]
        ]
    values: dict[int, float] = defaultdict(float)
    for series_id, frequency, month, value in observations:
        if frequency != finest[series_id]:
            continue
        offsets = [periods.index[p] * s_period for p in _periods_of(frequency, month)]
        for base in bases[series_id]:
            for offset in offsets:
                values[base + offset] += value
    table.values = {c: v for c, v in values.items() if v}
    return table


def _area_line(path: str) -> list[str]:
    """Return an area's line of descent from its path (``/MX/MX-CHH/MX-08-037/``)."""
    return path.strip("/").split("/")


def _code_line(code: str) -> list[str]:
    """Return a code's line of descent: the ICCS codes it starts with, then itself (as
    the query takes codes: ``01`` takes every code starting ``01``)."""
    tree = iccs()
    return [code[:n] for n in range(2, len(code)) if code[:n] in tree] + [code]


def _hierarchy(kind: int, lines: list[list[str]]) -> Dimension:
    """Return the dimension of areas or codes on ``lines`` of descent: each node rolled
    up (``(node, False)``) and, for a node with others below, its own figure apart."""
    below: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        for above, node in itertools.pairwise(line):
            below[above].add(node)
    nodes = {(node, False) for line in lines for node in line}
    dimension = Dimension([*nodes, *((node, True) for node in below)])
    for node, under in below.items():
        dimension.add(kind, (node, False), [(node, True), *((u, False) for u in under)])
    return dimension


def _nodes_of(dimension: Dimension, line: list[str]) -> list[Node]:
    """Return the figures a series stored under the last node of ``line`` counts in: each
    node of the line rolled up, and the last one's own figure if it has one apart."""
    own = (line[-1], True)
    return [(node, False) for node in line] + ([own] if own in dimension.index else [])


def _periods() -> Dimension:
    dimension = Dimension(PERIODS)
    for q in QUARTERS:
        dimension.add(QUARTER_OF_MONTHS, ("Q", q), [("M", q + i) for i in range(3)])
    dimension.add(YEAR_OF_QUARTERS, ("A", 1), [("Q", q) for q in QUARTERS])
    dimension.add(YEAR_OF_MONTHS, ("A", 1), [("M", m) for m in range(1, 13)])
    return dimension


def _periods_of(frequency: str, month: int) -> list[Node]:
    quarter = ("Q", (month - 1) // 3 * 3 + 1)
    return {"M": [("M", month), quarter, ("A", 1)], "Q": [quarter, ("A", 1)]}.get(
        frequency, [("A", 1)]
    )


def _breakdowns(found: set[Node]) -> Dimension:
    """Return the dimension of the breakdowns ``found`` (sex, age group, weapon): each
    total with the values of one breakdown as its parts."""
    dimension = Dimension(found)
    for d, kind in enumerate((SEX_SUM, AGE_SUM, WEAPON_SUM)):
        values = sorted({b[d] for b in found} - {TOTAL})
        for b in found:
            if b[d] == TOTAL:
                dimension.add(kind, b, [(*b[:d], v, *b[d + 1 :]) for v in values])
    return dimension


def _breakdown_targets(series: Sequence[SeriesFacts]) -> dict[int, list[Node]]:
    """Return, for each series, the breakdowns (sex, age group, weapon) whose figures it
    counts in: its own, and each total the query makes of it (a family's total series
    where it has one, otherwise its parts: ``query._totals``)."""
    families: dict[tuple[str, ...], list[SeriesFacts]] = defaultdict(list)
    for s in series:
        families[s[1:5]].append(s)
    found: dict[int, list[Node]] = defaultdict(list)
    for family in families.values():
        wanted = {_generalised(s[5:], mask) for s in family for mask in range(8)}
        for target in sorted(wanted):
            for series_id in _kept(family, target):
                found[series_id].append(target)
    return found


def _generalised(breakdown: tuple[str, ...], mask: int) -> Node:
    return tuple(TOTAL if mask >> d & 1 else value for d, value in enumerate(breakdown))


def _kept(family: list[SeriesFacts], target: Node) -> list[int]:
    """Return the series of ``family`` the query adds up for ``target``."""
    chosen = [s for s in family if all(t in (TOTAL, v) for t, v in zip(target, s[5:], strict=True))]
    for d in range(3):
        if target[d] != TOTAL:
            continue
        groups: dict[tuple[Any, ...], list[SeriesFacts]] = defaultdict(list)
        for s in chosen:
            groups[s[5 : 5 + d] + s[6 + d :]].append(s)
        chosen = [
            s
            for members in groups.values()
            for s in members
            if s[5 + d] == TOTAL or all(m[5 + d] != TOTAL for m in members)
        ]
    return [s[0] for s in chosen]
