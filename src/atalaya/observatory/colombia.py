"""Colombia: ``co-policia-homicidios`` (victims of homicide from the National Police) and
``dane-population`` (DANE's municipal population series).

``co-policia-homicidios`` reads the Police's yearly homicide spreadsheet (.xls) with the
records reader's own row reading and vocabulary (``atalaya.records.formats``): one row per
incident with its weapon, DANE municipality code, date, the victims' sex and age group, and
CANTIDAD victims. The rows are added up into monthly counts of indicator ``victims`` per
municipality, sex, age group and weapon, under the national category ``homicidio`` of the
``co-policia-homicidios`` crosswalk (ICCS 0101). Only these fully broken-down cells are
stored: queries add them up into totals (``_T``) themselves.

The file lists every homicide of the months it covers, so a month without a row for a
municipality, sex, age group and weapon had none: each series gets a zero for every
month the file covers (January of each year in it to the last month with a row in that
year), so that a year adds up whole rather than as not available.

``dane-population`` reads DANE's workbook (.xlsx; columns ``departamento_code,
departamento, municipio_code, municipio, year, poblacion``): the population of each
municipality and year, both sexes and all ages.

Neither file names its edition: ``--vintage`` is required.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from atalaya.classification import crosswalk
from atalaya.errors import DomainError
from atalaya.observatory.files import AreaIndex, Problems
from atalaya.observatory.imports import (
    ObservationIn,
    PopulationIn,
    Progress,
    SeriesKey,
    SourceInfo,
    StatisticsFile,
    counted,
)
from atalaya.observatory.models import NONE, TOTAL, SourceType, Status
from atalaya.observatory.periods import Period
from atalaya.records.formats import COLUMNS as POLICE_COLUMNS
from atalaya.records.formats import _police_date, _police_rows, _translate

POLICE_FORMAT = "co-policia-homicidios"
POLICE_SCHEME = "co-policia-homicidios"
POLICE_CATEGORY = "homicidio"
POLICE_PUBLISHER = "Policía Nacional de Colombia (DIJIN)"
POLICE_DATASET = "Homicidios: víctimas por municipio, fecha, sexo, edad y arma"
# The Police do not mark figures as provisional; each file is taken as published.
FINAL = Status.FINAL
DANE_SCHEME = "DANE"

POPULATION_FORMAT = "dane-population"
POPULATION_PUBLISHER = "DANE"
POPULATION_DATASET = "Proyecciones de población municipal 2018-2023"
POPULATION_COLUMNS = ("municipio_code", "year", "poblacion")


def read_police_homicides(
    path: Path, areas: AreaIndex, vintage: dt.date | None, progress: Progress | None = None
) -> StatisticsFile:
    """Return the monthly victims in the Police homicide file at ``path``; problems are
    collected, not raised.

    Raises ``OBS-113`` without a vintage, ``OBS-103`` for a file that is not the Police's
    spreadsheet.
    """
    if vintage is None:
        raise DomainError("OBS-113", field="vintage")
    rows, datemode = _read_police(path)
    source = SourceInfo(POLICE_PUBLISHER, POLICE_DATASET, SourceType.POLICE, vintage, POLICE_FORMAT)
    found = StatisticsFile(source, areas.paths)
    iccs = crosswalk(POLICE_SCHEME).map(POLICE_CATEGORY).iccs or NONE
    counts: dict[SeriesKey, dict[tuple[int, int], int]] = {}
    first_line: dict[SeriesKey, int] = {}
    last_month: dict[int, int] = {}
    for values in counted(found, rows, progress):
        line = int(values["_row"])
        occurred = _police_date(values["FECHA HECHO"], datemode)
        if occurred is None:
            found.problems.add(
                "OBS-109", "FECHA HECHO", line, column="FECHA HECHO", value=values["FECHA HECHO"]
            )
        area = _municipality(values["CODIGO DANE"], areas, line, found.problems)
        count = _count(values["CANTIDAD"], "CANTIDAD", line, found.problems)
        if occurred is None or area is None or count is None:
            continue
        series = SeriesKey(
            "victims",
            iccs,
            POLICE_SCHEME,
            POLICE_CATEGORY,
            area,
            sex=_translate("sex", str(values["GENERO"])),
            age_group=_translate("age_group", str(values["AGRUPA EDAD PERSONA"])),
            weapon=_translate("weapon", str(values["ARMAS MEDIOS"])),
        )
        when = (occurred.year, occurred.month)
        by_month = counts.setdefault(series, {})
        by_month[when] = by_month.get(when, 0) + count
        first_line.setdefault(series, line)
        last_month[occurred.year] = max(last_month.get(occurred.year, 0), occurred.month)
    covered = [(year, month) for year, last in last_month.items() for month in range(1, last + 1)]
    append = found.observations.append
    for series, by_month in counts.items():
        line = first_line[series]
        for year, month in covered:
            value = by_month.get((year, month), 0)
            append(ObservationIn(line, series, Period.month_of(year, month), value, FINAL))
    return found


def _read_police(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Return the records reader's rows of ``path``; ``OBS-103`` when it is not the
    Police's spreadsheet (another format, or without the columns read)."""
    columns = ", ".join(POLICE_COLUMNS)
    try:
        rows, datemode = _police_rows(path)
    except Exception:  # xlrd's errors for what is not a workbook; no header row found
        raise DomainError(
            "OBS-103", field="file", params={"format": POLICE_FORMAT, "columns": columns}
        ) from None
    missing = [name for name in POLICE_COLUMNS if rows and name not in rows[0]]
    if missing:
        raise DomainError(
            "OBS-103",
            field="file",
            params={"format": POLICE_FORMAT, "columns": ", ".join(missing)},
        )
    return rows, datemode


def _municipality(value: Any, areas: AreaIndex, line: int, problems: Problems) -> str | None:
    """Return the area of a DANE municipality code as the Police write it (``05001000``,
    municipality and populated centre); ``None``, with the problem noted, if unknown."""
    text = _text(value)
    digits = text.split(".")[0]  # as the records reader reads it
    area = areas.by_national_code(DANE_SCHEME, digits.zfill(8)[:5]) if digits.isdigit() else None
    if area is None:
        problems.add("OBS-105", "CODIGO DANE", line, scheme=DANE_SCHEME, code=text)
    return area


def _count(value: Any, column: str, line: int, problems: Problems) -> int | None:
    """Return a spreadsheet cell as a count (numbers come as floats: ``3.0`` is 3)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return problems.count(_text(value), column, line)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def read_dane_population(
    path: Path, areas: AreaIndex, vintage: dt.date | None, progress: Progress | None = None
) -> StatisticsFile:
    """Return the municipal populations in DANE's workbook at ``path``; problems are
    collected, not raised.

    Raises ``OBS-113`` without a vintage, ``OBS-103`` for a file that is not a workbook
    with this format's columns.
    """
    if vintage is None:
        raise DomainError("OBS-113", field="vintage")
    source = SourceInfo(
        POPULATION_PUBLISHER, POPULATION_DATASET, SourceType.DEMOGRAPHIC, vintage, POPULATION_FORMAT
    )
    found = StatisticsFile(source, areas.paths)
    first_line: dict[tuple[str, int], int] = {}
    for line, cell in counted(found, _sheet_rows(path), progress):
        code = _text(cell["municipio_code"])
        area = areas.by_national_code(DANE_SCHEME, code) if code.isdigit() else None
        if area is None:
            found.problems.add("OBS-105", "municipio_code", line, scheme=DANE_SCHEME, code=code)
        year = _year(cell["year"])
        if year is None:
            found.problems.add("OBS-109", "year", line, column="year", value=_text(cell["year"]))
        value = _count(cell["poblacion"], "poblacion", line, found.problems)
        if area is None or year is None or value is None:
            continue
        first = first_line.setdefault((area, year), line)
        if first != line:
            found.problems.add("OBS-104", "row", line, first=first)
            continue
        found.populations.append(PopulationIn(line, area, year, TOTAL, TOTAL, value))
    return found


def _sheet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield the first sheet's non-blank rows under its header, by column name, with their
    row number; raise ``OBS-103`` for what is not a workbook with this format's columns."""
    import openpyxl

    columns = ", ".join(POPULATION_COLUMNS)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # not a zip, not a workbook
        raise DomainError(
            "OBS-103", field="file", params={"format": POPULATION_FORMAT, "columns": columns}
        ) from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [_text(name) for name in next(rows, ())]
        missing = [name for name in POPULATION_COLUMNS if name not in header]
        if missing:
            raise DomainError(
                "OBS-103",
                field="file",
                params={"format": POPULATION_FORMAT, "columns": ", ".join(missing)},
            )
        index = {name: header.index(name) for name in POPULATION_COLUMNS}
        for line, row in enumerate(rows, 2):
            if all(_text(value) == "" for value in row):
                continue
            padded = [*row, *([None] * len(header))]
            yield line, {name: padded[i] for name, i in index.items()}
    finally:
        book.close()


def _year(value: Any) -> int | None:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = _text(value)
    if text.isdigit() and 1900 <= int(text) <= 2200:
        return int(text)
    return None
