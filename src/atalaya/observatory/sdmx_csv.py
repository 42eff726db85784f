"""``sdmx-csv``: an SDMX-CSV 1.0 export of this node (``atalaya stats export --format
sdmx-csv``, ``atalaya.observatory.sdmx``), read back.

UTF-8, columns ``DATAFLOW``, the dimensions, ``OBS_VALUE`` and the attributes of
dataflow ``ATALAYA:DF_CRIME(1.0)``. Each line becomes one observation of a series of
the file's source (``SOURCE``, ``SOURCE_TYPE``, ``VINTAGE``: the file must hold one;
``OBS-132`` otherwise), with its area, ICCS code, national category
(``NATIONAL_CATEGORY``), indicator, sex, age group, weapon, period and status
(``OBS_STATUS``: ``A`` final, ``P`` provisional, ``E`` estimated, ``M`` not available,
``C`` confidential). Lines that are not stored, counted in the report by reason:

- the rates Atalaya computed (``offences_per_100k``): they are computed again from the
  counts and the populations held;
- values with no ICCS code (``_X``) and no national category: several national
  categories added up, which cannot be a series of their own.

Problems: a dataflow not ours (``OBS-131``), an unknown area (``OBS-105``), a code not in
its code list, a period that is not of its frequency, a unit that does not go with the
indicator (``OBS-109``), a negative or fractional count (``OBS-106``, ``OBS-107``), a
value that does not go with its status (``OBS-133``), a repeated key (``OBS-104``).

A cell the export wrote with a quote in front, so that spreadsheets do not take it for
a formula (``atalaya.cells``), is read without that quote.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from atalaya.cells import restore
from atalaya.classification import iccs
from atalaya.classification.crosswalks import SCHEMES
from atalaya.errors import DomainError
from atalaya.observatory.files import AreaIndex, CsvTable, Problems, table
from atalaya.observatory.imports import (
    ObservationIn,
    Progress,
    SeriesKey,
    SourceInfo,
    StatisticsFile,
    read_table,
)
from atalaya.observatory.models import NONE, SourceType, Status
from atalaya.observatory.periods import Period
from atalaya.observatory.query import OBSERVATION_SOURCE_TYPES
from atalaya.observatory.sdmx import (
    CSV_COLUMNS,
    DATAFLOW,
    NO_ICCS,
    NUMBER,
    PER_100K,
    RATE_SUFFIX,
    STATUS_OF,
)
from atalaya.observatory.vocabulary import dimension_values, indicators

FORMAT = "sdmx-csv"
WITHOUT_VALUE = (Status.NOT_AVAILABLE, Status.CONFIDENTIAL)
COMPUTED_RATE = "computed rates (computed again from the counts and populations held)"
UNCLASSIFIED = "values with no ICCS code and no national category"


def read_sdmx_csv(
    path: Path, areas: AreaIndex, vintage: dt.date | None, progress: Progress | None = None
) -> StatisticsFile:
    """Return what the SDMX-CSV file at ``path`` holds; problems are collected, not raised.

    Raises ``OBS-102`` or ``OBS-103`` for a file in another encoding or format, ``OBS-132``
    for a file of several sources, ``OBS-134`` when ``vintage`` is not the file's.
    """
    rows = table(path.read_bytes(), "utf-8", CSV_COLUMNS, FORMAT)
    # Text the export quoted so that spreadsheets do not take it for a formula.
    lines = [(line, [restore(cell) for cell in row]) for line, row in rows.rows]
    source = _source(rows, lines, vintage)
    found = StatisticsFile(source, areas.paths)
    reader = _RowReader(rows.columns, areas, found)
    read_table(found, CsvTable(rows.columns, rows.width, iter(lines)), reader.read, progress)
    return found


def _source(
    rows: CsvTable, lines: list[tuple[int, list[str]]], given: dt.date | None
) -> SourceInfo:
    """Return the one source the file's values come from."""
    c = rows.columns
    held = {
        (row[c["SOURCE"]], row[c["SOURCE_TYPE"]], row[c["VINTAGE"]])
        for _, row in lines
        if len(row) == rows.width
    }
    if len(held) != 1:
        listed = "; ".join(sorted(f"{name} ({kind}, {when})" for name, kind, when in held))
        raise DomainError("OBS-132", field="SOURCE", params={"sources": listed or "-"})
    ((name, kind, when),) = held
    publisher, _, dataset = name.partition(": ")
    problems = Problems()
    try:
        vintage = dt.date.fromisoformat(when)
    except ValueError:
        problems.add("OBS-109", "VINTAGE", lines[0][0], column="VINTAGE", value=when)
    if kind not in OBSERVATION_SOURCE_TYPES:
        problems.add("OBS-109", "SOURCE_TYPE", lines[0][0], column="SOURCE_TYPE", value=kind)
    if not (publisher and dataset):
        problems.add("OBS-109", "SOURCE", lines[0][0], column="SOURCE", value=name)
    if problems.found:
        raise problems.error()
    if given is not None and given != vintage:
        raise DomainError("OBS-134", field="vintage", params={"found": vintage, "given": given})
    return SourceInfo(publisher, dataset, SourceType(kind), vintage, FORMAT)


class _RowReader:
    def __init__(self, columns: dict[str, int], areas: AreaIndex, found: StatisticsFile) -> None:
        self.columns = columns
        self.areas = areas
        self.found = found
        self.problems: Problems = found.problems
        self.first_line: dict[tuple[SeriesKey, str], int] = {}
        self.codes = {
            "ICCS": {c.code for c in iccs()} | {NO_ICCS},
            "SEX": dimension_values("sex"),
            "AGE": dimension_values("age_group"),
            "WEAPON": dimension_values("weapon"),
            "UNIT_MULT": {"0"},
        }

    def read(self, line: int, row: list[str]) -> None:
        cell = {name: row[index].strip() for name, index in self.columns.items()}
        if cell["DATAFLOW"] != DATAFLOW:
            params = {"dataflow": cell["DATAFLOW"], "expected": DATAFLOW}
            self.problems.add("OBS-131", "DATAFLOW", line, **params)
            return
        indicator = cell["INDICATOR"]
        if indicator.endswith(RATE_SUFFIX) and indicator.removesuffix(RATE_SUFFIX) in indicators():
            self.found.not_imported[COMPUTED_RATE] += 1
            return
        known = [self._known(name, cell[name], line) for name in self.codes]
        area, period = self._area(cell, line), self._period(cell, line)
        unit = self._unit(cell, line)
        status = STATUS_OF.get(cell["OBS_STATUS"])
        if status is None:
            self._refuse("OBS_STATUS", cell, line)
        if not all(known) or area is None or period is None or unit is None or status is None:
            return
        series = self._series(cell, area)
        if series is None:
            self.found.not_imported[UNCLASSIFIED] += 1
            return
        read, value = self._value(cell, status, unit, line)
        if not read:
            return
        first = self.first_line.setdefault((series, period.label), line)
        if first != line:
            self.problems.add("OBS-104", "row", line, first=first)
            return
        self.found.observations.append(ObservationIn(line, series, period, value, status))

    def _refuse(self, column: str, cell: dict[str, str], line: int) -> None:
        self.problems.add("OBS-109", column, line, column=column, value=cell[column])

    def _known(self, column: str, value: str, line: int) -> bool:
        if value in self.codes[column]:
            return True
        self.problems.add("OBS-109", column, line, column=column, value=value)
        return False

    def _area(self, cell: dict[str, str], line: int) -> str | None:
        code = cell["REF_AREA"]
        if code in self.areas.paths:
            return code
        self.problems.add("OBS-105", "REF_AREA", line, scheme="REF_AREA", code=code)
        return None

    def _period(self, cell: dict[str, str], line: int) -> Period | None:
        try:
            period = Period.parse(cell["TIME_PERIOD"])
        except DomainError:
            period = None
        if period is None or period.label != cell["TIME_PERIOD"]:
            self._refuse("TIME_PERIOD", cell, line)
            return None
        if period.frequency.value != cell["FREQ"]:
            self._refuse("FREQ", cell, line)
            return None
        return period

    def _unit(self, cell: dict[str, str], line: int) -> str | None:
        indicator = indicators().get(cell["INDICATOR"])
        if indicator is None:
            self._refuse("INDICATOR", cell, line)
            return None
        unit = NUMBER if indicator.additive else PER_100K
        if cell["UNIT_MEASURE"] != unit:
            self._refuse("UNIT_MEASURE", cell, line)
            return None
        return unit

    def _series(self, cell: dict[str, str], area: str) -> SeriesKey | None:
        code = cell["ICCS"] if cell["ICCS"] != NO_ICCS else NONE
        scheme, _, national = cell["NATIONAL_CATEGORY"].partition(":")
        if not national or scheme not in SCHEMES:
            scheme, national = NONE, cell["NATIONAL_CATEGORY"]
        if not code and not national:
            return None
        return SeriesKey(
            cell["INDICATOR"], code, scheme, national, area, cell["SEX"], cell["AGE"],
            cell["WEAPON"],
        )  # fmt: skip

    def _value(
        self, cell: dict[str, str], status: Status, unit: str, line: int
    ) -> tuple[bool, float | None]:
        """Return whether the value could be read, and the value (``None``: none, as the
        status says); the problem is noted when it could not."""
        text = cell["OBS_VALUE"]
        if (not text) != (status in WITHOUT_VALUE):
            params = {"status": cell["OBS_STATUS"], "value": text or "-"}
            self.problems.add("OBS-133", "OBS_VALUE", line, **params)
            return False, None
        if not text:
            return True, None
        if unit == NUMBER:
            count = self.problems.count(text, "OBS_VALUE", line)
            return count is not None, None if count is None else float(count)
        try:
            rate = float(text)
        except ValueError:
            rate = -1.0
        if rate < 0:
            self._refuse("OBS_VALUE", cell, line)
            return False, None
        return True, rate
