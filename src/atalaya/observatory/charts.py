"""The geometry of the dashboard's charts, drawn as inline SVG by its templates: a bar
chart of areas, a line chart of years, and a tile-grid map shaded in classes.

Everything here is plain arithmetic on the figures; the templates only place what it
returns. A figure without a value (not available, confidential, none published) gets no
bar, no point and an unshaded tile: it is never drawn as a zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from atalaya.observatory.tile_grid import TileLayout

# A sequential blue scale, lightest for the lowest class; the ink on each meets WCAG AA.
PALETTE = ("#eff3ff", "#bdd7e7", "#6baed6", "#2171b5", "#08306b")
INK = ("#1b1f24", "#1b1f24", "#1b1f24", "#ffffff", "#ffffff")
NO_VALUE_FILL = "#ffffff"
NO_VALUE_INK = "#1b1f24"
# Chart sizes in SVG user units (the SVG scales to the width of its box).
WIDTH = 640
LABEL_WIDTH = 190
VALUE_WIDTH = 70
BAR_HEIGHT = 18
BAR_GAP = 6
AXIS_HEIGHT = 24
LINE_HEIGHT = 260
LINE_MARGIN = (16, 16, 32, 70)  # top, right, bottom, left
TILE = 56
TILE_GAP = 4

Format = Callable[[float], str]


@dataclass(frozen=True)
class Datum:
    """One figure to draw: its code (area or period), its label, its value if it has one,
    and that value written for the reader (or the reason it has none)."""

    code: str
    label: str
    value: float | None
    text: str


@dataclass(frozen=True)
class Scale:
    step: float
    top: float

    @property
    def ticks(self) -> list[float]:
        return [self.step * i for i in range(round(self.top / self.step) + 1)]


def scale_for(maximum: float, intervals: int = 4) -> Scale:
    """Return a scale from zero to a round number at or above ``maximum``, in at most
    ``intervals`` steps of 1, 2 or 5 times a power of ten."""
    if maximum <= 0:
        return Scale(1.0, 1.0)
    raw = maximum / intervals
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return Scale(step, math.ceil(maximum / step - 1e-9) * step)


def _maximum(data: Sequence[Datum]) -> float:
    return max((d.value for d in data if d.value is not None), default=0.0)


@dataclass(frozen=True)
class Bar:
    datum: Datum
    y: float
    width: float


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    # (x, text) of each tick of the value axis.
    ticks: list[tuple[float, str]]
    width: int
    height: float
    plot_left: int
    plot_width: int
    bar_height: int


def bar_chart(data: Sequence[Datum], fmt: Format) -> BarChart:
    """Return horizontal bars, one per datum in order, on a scale from zero."""
    scale = scale_for(_maximum(data))
    plot_width = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = [
        Bar(
            d,
            AXIS_HEIGHT + i * (BAR_HEIGHT + BAR_GAP),
            0.0 if d.value is None else d.value / scale.top * plot_width,
        )
        for i, d in enumerate(data)
    ]
    ticks = [(LABEL_WIDTH + t / scale.top * plot_width, fmt(t)) for t in scale.ticks]
    height = AXIS_HEIGHT + len(data) * (BAR_HEIGHT + BAR_GAP)
    return BarChart(bars, ticks, WIDTH, height, LABEL_WIDTH, plot_width, BAR_HEIGHT)


@dataclass(frozen=True)
class Point:
    datum: Datum
    x: float
    y: float


@dataclass(frozen=True)
class LineChart:
    points: list[Point]
    # Each unbroken run of points with values, as SVG ``points`` text.
    segments: list[str]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int


def line_chart(data: Sequence[Datum], fmt: Format) -> LineChart:
    """Return a line through the data in order (periods, evenly spaced), broken where a
    datum has no value; every datum with one is also a point."""
    top, right, bottom, left = LINE_MARGIN
    scale = scale_for(_maximum(data))
    inner_width, inner_height = WIDTH - left - right, LINE_HEIGHT - top - bottom
    spacing = inner_width / max(1, len(data) - 1)

    def y_of(value: float) -> float:
        return top + inner_height - value / scale.top * inner_height

    points: list[Point] = []
    segments: list[list[Point]] = [[]]
    for i, d in enumerate(data):
        x = left + (i * spacing if len(data) > 1 else inner_width / 2)
        if d.value is None:
            segments.append([])
            continue
        points.append(Point(d, x, y_of(d.value)))
        segments[-1].append(points[-1])
    every = max(1, math.ceil(len(data) / 12))
    x_ticks = [
        (left + (i * spacing if len(data) > 1 else inner_width / 2), d.label)
        for i, d in enumerate(data)
        if i % every == 0
    ]
    y_ticks = [(y_of(t), fmt(t)) for t in scale.ticks]
    runs = [" ".join(f"{p.x:.1f},{p.y:.1f}" for p in run) for run in segments if len(run) > 1]
    return LineChart(
        points, runs, x_ticks, y_ticks, WIDTH, LINE_HEIGHT, left, WIDTH - right, top,
        LINE_HEIGHT - bottom,
    )  # fmt: skip


@dataclass(frozen=True)
class ColourClass:
    low: float
    high: float
    fill: str
    ink: str


def colour_classes(maximum: float, fmt: Format) -> list[tuple[ColourClass, str]]:
    """Return up to five classes of equal width from zero to a round number at or above
    ``maximum``, each with its legend text (``low – high``)."""
    scale = scale_for(maximum, intervals=len(PALETTE))
    count = max(1, round(scale.top / scale.step))
    shades = [round(i * (len(PALETTE) - 1) / max(1, count - 1)) for i in range(count)]
    if count == 1:
        shades = [len(PALETTE) // 2]
    classes = [
        ColourClass(i * scale.step, (i + 1) * scale.step, PALETTE[s], INK[s])
        for i, s in enumerate(shades)
    ]
    return [(c, f"{fmt(c.low)} – {fmt(c.high)}") for c in classes]


def class_of(value: float, classes: Sequence[ColourClass]) -> ColourClass:
    """Return the class ``value`` falls in: from its low bound up to, not including, its
    high bound (the last class includes its high bound)."""
    index = int(value // (classes[0].high - classes[0].low)) if classes[0].high > 0 else 0
    return classes[min(max(index, 0), len(classes) - 1)]


@dataclass(frozen=True)
class MapTile:
    datum: Datum
    short: str
    x: int
    y: int
    fill: str
    ink: str


@dataclass(frozen=True)
class TileMap:
    tiles: list[MapTile]
    legend: list[tuple[ColourClass, str]]
    width: int
    height: int
    size: int
    geographic: bool


def tile_map(data: Sequence[Datum], layout: TileLayout, fmt: Format) -> TileMap:
    """Return a square per datum where ``layout`` places it, shaded by the class of its
    value; a datum without a value is left white (the template outlines it dashed)."""
    classes = colour_classes(_maximum(data), fmt)
    by_code = {d.code: d for d in data}
    tiles = []
    for tile in layout.tiles:
        d = by_code[tile.code]
        if d.value is None:
            fill, ink = NO_VALUE_FILL, NO_VALUE_INK
        else:
            shade = class_of(d.value, [c for c, _ in classes])
            fill, ink = shade.fill, shade.ink
        x, y = tile.col * (TILE + TILE_GAP), tile.row * (TILE + TILE_GAP)
        tiles.append(MapTile(d, d.code.rsplit("-", 1)[-1], x, y, fill, ink))
    width = max(1, layout.cols) * (TILE + TILE_GAP)
    height = max(1, layout.rows) * (TILE + TILE_GAP)
    return TileMap(tiles, classes, width, height, TILE, layout.geographic)
