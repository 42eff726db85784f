"""Indicator values written out: CSV and XLSX with codes and labels in the reader's
language, and the SDMX formats (``atalaya.observatory.sdmx``).

Every export takes the values of an indicator query (``service.indicator_values``: the
same filters and the same visibility as ``GET /api/v1/indicators``) and names, on every
row, the source and vintage the value comes from, and the population a rate rests on.

CSV (UTF-8, comma, RFC 4180, no byte-order mark) is one table, one row per value:
codes (``indicator``, ``iccs``, ``area``, ``period``...) followed by their labels
(``area_label``...), ``value`` (empty when not available or confidential, never zero),
``status``, ``rate_per_100k``, the population used, and the source (``publisher``,
``dataset``, ``vintage``): each value comes from one source, so a statistician can
filter or pivot on them. XLSX holds the same table in a ``data`` sheet, the sources in
a ``sources`` sheet and the query in a ``query`` sheet.

Text that a spreadsheet would take for a formula (``=HYPERLINK(...)`` as a category or
a dataset's name) is written with a quote in front (``atalaya.cells``), in CSV, XLSX
and SDMX-CSV; numbers and dates are written as they are. SDMX-JSON is left alone:
spreadsheets do not open it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.cells import neutralise
from atalaya.classification import iccs
from atalaya.errors import DomainError
from atalaya.geo.models import Area
from atalaya.i18n import Translator, translator
from atalaya.observatory import sdmx
from atalaya.observatory.labels import label, number
from atalaya.observatory.models import TOTAL
from atalaya.observatory.query import IndicatorQuery, IndicatorValue
from atalaya.observatory.sdmx import source_name, sources


@dataclass(frozen=True)
class ExportRow:
    """One value as the CSV and XLSX exports show it (the column order)."""

    indicator: str
    indicator_label: str
    iccs: str
    iccs_label: str
    national_category: str
    area: str
    area_label: str
    period: str
    frequency: str
    sex: str
    sex_label: str
    age_group: str
    age_group_label: str
    weapon: str
    weapon_label: str
    source_type: str
    source_type_label: str
    value: int | float | None
    status: str
    status_label: str
    rate_per_100k: float | None
    population: int | None
    population_year: int | None
    population_source: str
    population_vintage: dt.date | None
    publisher: str
    dataset: str
    vintage: dt.date
    notes: str


COLUMNS = tuple(f.name for f in fields(ExportRow))


def area_names(session: Session, values: Iterable[IndicatorValue], language: str) -> dict[str, str]:
    """Return the name in ``language`` of each area of ``values``."""
    codes = {v.key.area for v in values}
    if not codes:
        return {}
    areas = session.scalars(select(Area).where(Area.code.in_(codes)))
    return {a.code: a.name_in(language) for a in areas}


def rows(session: Session, values: list[IndicatorValue], language: str) -> list[ExportRow]:
    """Return the export rows of ``values``, labelled in ``language``."""
    tr = translator(language)
    names = area_names(session, values, language)
    return [_row(v, tr, names) for v in values]


def _row(v: IndicatorValue, tr: Translator, area_names: dict[str, str]) -> ExportRow:
    key, population = v.key, v.population
    national = key.national_code or ""
    if key.national_scheme:
        national = f"{key.national_scheme}:{national}"
    return ExportRow(
        indicator=key.indicator,
        indicator_label=label("indicator", key.indicator, tr),
        iccs=key.iccs or "",
        iccs_label=iccs().name(key.iccs, tr.language) if key.iccs else "",
        national_category=national,
        area=key.area,
        area_label=area_names.get(key.area, key.area),
        period=key.period.label,
        frequency=key.period.frequency.value,
        sex=key.sex,
        sex_label=label("sex", key.sex, tr),
        age_group=key.age_group,
        age_group_label=label("age_group", key.age_group, tr),
        weapon=key.weapon,
        weapon_label=label("weapon", key.weapon, tr),
        source_type=key.source.source_type,
        source_type_label=label("source_type", key.source.source_type, tr),
        value=number(v.value),
        status=v.status.value,
        status_label=label("status", v.status.value, tr),
        rate_per_100k=v.rate_per_100k,
        population=population.value if population else None,
        population_year=population.year if population else None,
        population_source=source_name(population.source) if population else "",
        population_vintage=population.source.vintage if population else None,
        publisher=key.source.publisher,
        dataset=key.source.dataset,
        vintage=key.source.vintage,
        notes=" ".join(tr.gettext(n.message, **n.params) for n in v.notes),
    )


def write_csv(session: Session, values: list[IndicatorValue], language: str) -> bytes:
    """Return the CSV export of ``values`` (module docstring)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows(session, values, language):
        writer.writerow(["" if cell is None else cell for cell in _cells(row)])
    return out.getvalue().encode("utf-8")


def _cells(row: ExportRow) -> list[Any]:
    return [neutralise(getattr(row, name)) for name in COLUMNS]


def write_xlsx(
    session: Session, values: list[IndicatorValue], language: str, q: IndicatorQuery
) -> bytes:
    """Return the XLSX export of ``values``: sheets ``data``, ``sources`` and ``query``."""
    tr = translator(language)
    book = Workbook(write_only=True)
    data = book.create_sheet("data")
    data.append(list(COLUMNS))
    for row in rows(session, values, language):
        data.append([_dated(data, cell) for cell in _cells(row)])
    listed = book.create_sheet("sources")
    listed.append(["role", "publisher", "dataset", "source_type", "vintage"])
    for role, s in sources(values):
        cells = [role, s.publisher, s.dataset, s.source_type]
        listed.append([*map(neutralise, cells), _dated(listed, s.vintage)])
    asked = book.create_sheet("query")
    asked.append(["filter", "value"])
    for name, value in query_filters(q):
        asked.append([name, neutralise(value)])
    asked.append(["language", tr.language])
    asked.append(["values", len(values)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _dated(sheet: WriteOnlyWorksheet, cell: Any) -> Any:
    """A date shown as one (``2022-05-01``), not as a date and a time."""
    if not isinstance(cell, dt.date):
        return cell
    dated = WriteOnlyCell(sheet, value=cell)
    dated.number_format = "yyyy-mm-dd"
    return dated


def query_filters(q: IndicatorQuery) -> list[tuple[str, str]]:
    """Return the filters of ``q`` that were given, as text."""
    found = []
    for f in fields(q):
        value = getattr(q, f.name)
        if f.name == "by":
            value = ", ".join(value)
        if value and value != TOTAL:
            found.append((f.name, str(value)))
    return found


def audit_detail(format: str, values: list[IndicatorValue], q: IndicatorQuery) -> dict[str, Any]:
    """Return what the audit log keeps of an export: its format, size and filters."""
    return {"format": format, "values": len(values), "filters": dict(query_filters(q))}


@dataclass(frozen=True)
class ExportFormat:
    media_type: str
    extension: str


FORMATS = {
    "csv": ExportFormat("text/csv; charset=utf-8", "csv"),
    "xlsx": ExportFormat(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"
    ),
    "sdmx-csv": ExportFormat("application/vnd.sdmx.data+csv; version=1.0.0; charset=utf-8", "csv"),
    "sdmx-json": ExportFormat("application/vnd.sdmx.data+json; version=1.0.0", "json"),
}


def check_format(format: str) -> ExportFormat:
    """Return the export format named ``format``; raise ``OBS-116`` for another."""
    found = FORMATS.get(format)
    if found is None:
        params: dict[str, object] = {"value": format, "choices": ", ".join(FORMATS)}
        raise DomainError("OBS-116", field="format", params=params)
    return found


def export(
    session: Session,
    values: list[IndicatorValue],
    format: str,
    language: str,
    q: IndicatorQuery,
) -> bytes:
    """Return ``values`` written in ``format`` (one of ``FORMATS``), labelled in ``language``.

    Raises ``OBS-116`` for another format, and ``OBS-130`` for an SDMX export broken
    down by national category (``sdmx.check_query``).
    """
    check_format(format)
    if format == "csv":
        return write_csv(session, values, language)
    if format == "xlsx":
        return write_xlsx(session, values, language, q)
    sdmx.check_query(q)
    if format == "sdmx-csv":
        return sdmx.write_csv(values)
    return sdmx.write_json(values, language)


def file_name(format: str, today: dt.date) -> str:
    """Return the name an export is saved under: ``atalaya-indicators-2026-11-30.csv``."""
    suffix = "-sdmx" if format.startswith("sdmx") else ""
    return f"atalaya-indicators-{today.isoformat()}{suffix}.{check_format(format).extension}"
