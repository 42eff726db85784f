"""``sesnsp-idefc``: Mexico's state-level crime incidence file (IDEFC_NM) from SESNSP.

One row per year, state (INEGI code in ``Clave_Ent``) and crime type, subtype and
modality, with the investigation files opened in each month as twelve columns. The
file is latin-1. Months not yet published are blank: they give no observation (and
are counted in the report), never a zero. Some editions write counts as quoted
thousands (``"1,000"``).

Each row's category is looked up in the ``mx-sesnsp`` crosswalk: the series keeps the
national category (type|subtype|modality) and its ICCS code, or no ICCS code when the
crosswalk has none (reported). Modalities that name a weapon become the weapon.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from pathlib import Path

from atalaya.classification import crosswalk
from atalaya.datafiles import read_commented_csv
from atalaya.errors import DomainError
from atalaya.observatory.files import AreaIndex, Problems, table
from atalaya.observatory.imports import (
    ObservationIn,
    Progress,
    SeriesKey,
    SourceInfo,
    StatisticsFile,
    read_table,
)
from atalaya.observatory.models import NONE, TOTAL, SourceType, Status
from atalaya.observatory.periods import Period
from atalaya.observatory.vocabulary import DATA_DIR

FORMAT = "sesnsp-idefc"
SCHEME = "mx-sesnsp"
PUBLISHER = "SESNSP"
DATASET = "IDEFC_NM: incidencia delictiva del fuero común por entidad federativa"
YEAR, STATE = "Año", "Clave_Ent"
CATEGORY = ("Tipo de delito", "Subtipo de delito", "Modalidad")
MONTHS = (
    "Enero",
    "Febrero",
    "Marzo",
    "Abril",
    "Mayo",
    "Junio",
    "Julio",
    "Agosto",
    "Septiembre",
    "Octubre",
    "Noviembre",
    "Diciembre",
)
COLUMNS = (YEAR, STATE, *CATEGORY, *MONTHS)
# SESNSP does not mark provisional figures; each edition is taken as published.
FINAL = Status.FINAL
# SESNSP names each edition after its month: IDEFC_NM_may22.csv is May 2022's.
_EDITION = re.compile(r"_(ene|feb|mar|abr|may|jun|jul|ago|sep|oct|nov|dic)(\d{2})\.csv$", re.I)
_SPANISH_MONTHS = (
    "ene",
    "feb",
    "mar",
    "abr",
    "may",
    "jun",
    "jul",
    "ago",
    "sep",
    "oct",
    "nov",
    "dic",
)


def edition_date(path: Path) -> dt.date | None:
    """Return the first day of the edition's month named in the file name, if it is."""
    match = _EDITION.search(path.name)
    if match is None:
        return None
    month, year = match.groups()
    return dt.date(2000 + int(year), _SPANISH_MONTHS.index(month.lower()) + 1, 1)


@cache
def modality_weapons() -> dict[str, str]:
    text = (DATA_DIR / "mx-sesnsp-modalities.csv").read_text(encoding="utf-8")
    return {row["modality"]: row["weapon"] for _, row in read_commented_csv(text).rows}


def read_sesnsp(
    path: Path, areas: AreaIndex, vintage: dt.date | None, progress: Progress | None = None
) -> StatisticsFile:
    """Return what the IDEFC file at ``path`` holds; problems are collected, not raised.

    Raises ``OBS-102`` (not latin-1), ``OBS-103`` (not this format's columns) or
    ``OBS-113`` (no vintage given and none in the file name) for the file as a whole.
    """
    vintage = vintage or edition_date(path)
    if vintage is None:
        raise DomainError("OBS-113", field="vintage")
    rows = table(path.read_bytes(), "latin-1", COLUMNS, FORMAT)
    source = SourceInfo(PUBLISHER, DATASET, SourceType.POLICE, vintage, FORMAT)
    found = StatisticsFile(source, areas.paths)
    read_table(found, rows, _RowReader(rows.columns, areas, found).read, progress)
    return found


class _RowReader:
    def __init__(self, columns: dict[str, int], areas: AreaIndex, found: StatisticsFile) -> None:
        self.columns = columns
        self.areas = areas
        self.found = found
        self.problems: Problems = found.problems
        self.crosswalk = crosswalk(SCHEME)
        self.weapons = modality_weapons()
        self.first_line: dict[tuple[int, str, str], int] = {}

    def read(self, line: int, row: list[str]) -> None:
        cell = {name: row[self.columns[name]].strip() for name in (YEAR, STATE, *CATEGORY)}
        year = self._year(cell[YEAR], line)
        area = self._area(cell[STATE], line)
        series = self._series(cell, area, line)
        counts = self._counts(line, row)
        if year is None or area is None or series is None:
            return
        first = self.first_line.setdefault((year, area, series.national_code), line)
        if first != line:
            self.problems.add("OBS-104", "row", line, first=first)
            return
        append = self.found.observations.append
        for month, count in counts:
            append(ObservationIn(line, series, Period.month_of(year, month), count, FINAL))

    def _counts(self, line: int, row: list[str]) -> list[tuple[int, int]]:
        """Return the row's published months and their counts; blank months are counted."""
        # The inner loop of the import: 12 cells a row, some 300,000 a file.
        counts = []
        for month, name in enumerate(MONTHS, 1):
            text = row[self.columns[name]].strip()
            if not text:
                self.found.blank_cells += 1
                continue
            count = int(text) if text.isdigit() else self.problems.count(text, name, line)
            if count is not None:
                counts.append((month, count))
        return counts

    def _year(self, text: str, line: int) -> int | None:
        if text.isdigit() and 1900 <= int(text) <= 2100:
            return int(text)
        self.problems.add("OBS-109", YEAR, line, column=YEAR, value=text)
        return None

    def _area(self, text: str, line: int) -> str | None:
        code = f"{int(text):02d}" if text.isdigit() else text
        area = self.areas.by_national_code("INEGI", code)
        if area is None:
            self.problems.add("OBS-105", STATE, line, scheme="INEGI", code=text)
        return area

    def _series(self, cell: dict[str, str], area: str | None, line: int) -> SeriesKey | None:
        category = "|".join(cell[name] for name in CATEGORY)
        if category not in self.crosswalk:
            self.problems.add("OBS-108", "Tipo de delito", line, code=category, scheme=SCHEME)
            return None
        iccs = self.crosswalk.map(category).iccs
        if iccs is None:
            self.found.without_iccs[category] += 1
        weapon = self.weapons.get(cell["Modalidad"], TOTAL)
        return SeriesKey("offences", iccs or NONE, SCHEME, category, area or "", weapon=weapon)
