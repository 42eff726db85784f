"""Tile-grid maps: where each subdivision of a country sits, as a square on a grid.

Layouts are data (``data/tile_grids.csv``, Atalaya's own approximate layouts); an area
with none, or whose layout does not place every one of its subdivisions, gets its
subdivisions in alphabetical order, row by row, and the page says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from atalaya.datafiles import read_commented_csv
from atalaya.observatory.vocabulary import DATA_DIR


@dataclass(frozen=True)
class Tile:
    code: str
    row: int
    col: int


@dataclass(frozen=True)
class TileLayout:
    tiles: list[Tile]
    # False: no layout of its own, laid out alphabetically.
    geographic: bool

    @property
    def rows(self) -> int:
        return max((t.row for t in self.tiles), default=-1) + 1

    @property
    def cols(self) -> int:
        return max((t.col for t in self.tiles), default=-1) + 1


@cache
def layouts() -> dict[str, dict[str, tuple[int, int]]]:
    """Return ``{area whose subdivisions are laid out: {subdivision: (row, col)}}``."""
    text = (DATA_DIR / "tile_grids.csv").read_text(encoding="utf-8")
    found: dict[str, dict[str, tuple[int, int]]] = {}
    for _, row in read_commented_csv(text).rows:
        found.setdefault(row["country"], {})[row["area"]] = (int(row["row"]), int(row["col"]))
    return found


def layout_of(area: str, subdivisions: Sequence[tuple[str, str]]) -> TileLayout:
    """Return where each of ``subdivisions`` (code and name, of ``area``) is drawn: the
    layout of ``area`` when it places every one of them, otherwise in the alphabetical
    order of their names, in a grid about as wide as it is high."""
    placed = layouts().get(area, {})
    if subdivisions and all(code in placed for code, _ in subdivisions):
        return TileLayout([Tile(code, *placed[code]) for code, _ in subdivisions], True)
    width = max(1, math.ceil(math.sqrt(len(subdivisions))))
    ordered = sorted(subdivisions, key=lambda s: (s[1].casefold(), s[0]))
    tiles = [Tile(code, i // width, i % width) for i, (code, _) in enumerate(ordered)]
    return TileLayout(tiles, False)
