"""``snic-provincias``: Argentina's crime statistics by province and year from SNIC.

SNIC (Sistema Nacional de Información Criminal, Ministerio de Seguridad de la Nación)
publishes one row per province (``provincia_id``, INDEC code), year and SNIC crime code,
UTF-8, with:

- ``cantidad_hechos``: offences; ``cantidad_victimas``: victims, and by sex
  (``_masc``, ``_fem``, and ``_sd``, *sin dato*: sex unknown);
- ``tasa_hechos``, ``tasa_victimas``, ``tasa_victimas_masc``, ``tasa_victimas_fem``:
  the publisher's own rates per 100,000, some written with a leading dot (``.5``).

Counts become the ``offences`` and ``victims`` indicators (sex ``_T``, ``male``,
``female``, ``unknown``), rates the ``offences_per_100k_published`` and
``victims_per_100k_published`` indicators, kept apart from the rates Atalaya
computes. Victim fields are blank for crimes without victims: blank is not published,
so no observation is stored (and the cell is counted), never a zero.

Each row's SNIC code is looked up in the ``ar-snic`` crosswalk: the series keeps the
code as its national category and the code's ICCS code, or none where the crosswalk
has none (reported), for counts and rates alike.

The file does not name its edition: the vintage must be given.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from atalaya.classification import crosswalk
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
from atalaya.observatory.models import NONE, TOTAL, Frequency, SourceType, Status
from atalaya.observatory.periods import Period

FORMAT = "snic-provincias"
SCHEME = "ar-snic"
PUBLISHER = "Ministerio de Seguridad de la Nación"
DATASET = "SNIC: estadísticas criminales por provincia"
PROVINCE, YEAR, CODE = "provincia_id", "anio", "codigo_delito_snic_id"
# Count columns: indicator and sex.
COUNTS = {
    "cantidad_hechos": ("offences", TOTAL),
    "cantidad_victimas": ("victims", TOTAL),
    "cantidad_victimas_masc": ("victims", "male"),
    "cantidad_victimas_fem": ("victims", "female"),
    "cantidad_victimas_sd": ("victims", "unknown"),
}
# Published rate columns: whether it is a rate of victims, and sex.
RATES = {
    "tasa_hechos": (False, TOTAL),
    "tasa_victimas": (True, TOTAL),
    "tasa_victimas_masc": (True, "male"),
    "tasa_victimas_fem": (True, "female"),
}
# The publisher's rates, by what they count.
PUBLISHED_RATE = {False: "offences_per_100k_published", True: "victims_per_100k_published"}
COLUMNS = (PROVINCE, YEAR, CODE, *COUNTS, *RATES)
# SNIC does not mark provisional figures; each edition is taken as published.
FINAL = Status.FINAL
# A rate as SNIC writes it: ``4.975``, ``.80050492``, ``12``.
_RATE = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)$")


def read_snic(
    path: Path, areas: AreaIndex, vintage: dt.date | None, progress: Progress | None = None
) -> StatisticsFile:
    """Return what the SNIC file at ``path`` holds; problems are collected, not raised.

    Raises ``OBS-113`` without a vintage (the file does not name its edition),
    ``OBS-102`` or ``OBS-103`` for a file in another encoding or format.
    """
    if vintage is None:
        raise DomainError("OBS-113", field="vintage")
    rows = table(path.read_bytes(), "utf-8", COLUMNS, FORMAT)
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
        self.first_line: dict[tuple[int, str, str], int] = {}
        self.periods: dict[int, Period] = {}

    def read(self, line: int, row: list[str]) -> None:
        cell = {name: row[index].strip() for name, index in self.columns.items()}
        year = self._year(cell[YEAR], line)
        area = self._area(cell[PROVINCE], line)
        code = self._code(cell[CODE], line)
        counts = self._counts(cell, line)
        rates = self._rates(cell, line)
        if year is None or area is None or code is None:
            return
        first = self.first_line.setdefault((year, area, code), line)
        if first != line:
            self.problems.add("OBS-104", "row", line, first=first)
            return
        iccs = self.crosswalk.map(code).iccs
        if iccs is None:
            self.found.without_iccs[code] += 1
        period = self._period(year)
        append = self.found.observations.append
        for (indicator, sex), count in counts:
            series = SeriesKey(indicator, iccs or NONE, SCHEME, code, area, sex=sex)
            append(ObservationIn(line, series, period, count, FINAL))
        for (of_victims, sex), rate in rates:
            indicator = PUBLISHED_RATE[of_victims]
            series = SeriesKey(indicator, iccs or NONE, SCHEME, code, area, sex=sex)
            append(ObservationIn(line, series, period, rate, FINAL))

    def _counts(self, cell: dict[str, str], line: int) -> list[tuple[tuple[str, str], int]]:
        counts = []
        for name, what in COUNTS.items():
            text = cell[name]
            if not text:
                self.found.blank_cells += 1
                continue
            count = self.problems.count(text, name, line)
            if count is not None:
                counts.append((what, count))
        return counts

    def _rates(self, cell: dict[str, str], line: int) -> list[tuple[tuple[bool, str], float]]:
        rates = []
        for name, what in RATES.items():
            text = cell[name]
            if not text:
                self.found.blank_cells += 1
            elif _RATE.match(text):
                rates.append((what, float(text)))
            else:
                self.problems.add("OBS-109", name, line, column=name, value=text)
        return rates

    def _period(self, year: int) -> Period:
        # One object per year: a file has some 150,000 observations.
        period = self.periods.get(year)
        if period is None:
            period = self.periods[year] = Period(year, 1, Frequency.ANNUAL)
        return period

    def _year(self, text: str, line: int) -> int | None:
        if text.isdigit() and 1900 <= int(text) <= 2100:
            return int(text)
        self.problems.add("OBS-109", YEAR, line, column=YEAR, value=text)
        return None

    def _area(self, text: str, line: int) -> str | None:
        code = f"{int(text):02d}" if text.isdigit() else text
        area = self.areas.by_national_code("INDEC", code)
        if area is None:
            self.problems.add("OBS-105", PROVINCE, line, scheme="INDEC", code=text)
        return area

    def _code(self, text: str, line: int) -> str | None:
        if text in self.crosswalk:
            return text
        self.problems.add("OBS-108", CODE, line, code=text, scheme=SCHEME)
        return None
