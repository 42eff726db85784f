"""Readers for the formats ``atalaya records import`` takes; each yields ``SourceRecord``s.

- ``jsonl``: one incident per line, in the API's shape (docs/records.md).
- ``co-policia-homicidios``: the Colombian National Police homicide spreadsheet (.xls):
  one incident per data row, with CANTIDAD victims; title rows, the TOTAL row and the
  footnotes are not data.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from atalaya.errors import FieldError, field_errors_from_pydantic
from atalaya.records.csv_format import count_csv, read_csv
from atalaya.records.imports import SourceRecord
from atalaya.records.nibrs import count_nibrs, read_nibrs
from atalaya.records.schema import IncidentIn

DATA_DIR = Path(__file__).parent / "data"


def read_jsonl(path: Path) -> Iterator[SourceRecord]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                yield f"line {number}", _parse(line)


def _parse(line: str) -> IncidentIn | list[FieldError]:
    try:
        return IncidentIn.model_validate(json.loads(line))
    except json.JSONDecodeError:
        return [FieldError("record", "API-101")]
    except ValidationError as error:
        return field_errors_from_pydantic(error.errors())


def count_jsonl(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


# The Colombian National Police homicide file ----------------------------------------

HEADER_FIRST_CELL = "ARMAS MEDIOS"
COLUMNS = (
    "ARMAS MEDIOS",
    "FECHA HECHO",
    "GENERO",
    "AGRUPA EDAD PERSONA",
    "CODIGO DANE",
    "CANTIDAD",
)


@cache
def _police_vocabulary() -> dict[str, dict[str, str]]:
    with (DATA_DIR / "co-policia-homicidios.toml").open("rb") as f:
        return tomllib.load(f)


def _translate(table: str, value: str) -> str:
    mapping = _police_vocabulary()[table]
    return mapping.get(value.strip().upper(), mapping["otherwise"])


def _police_rows(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Return the data rows (with their sheet row number) and the workbook's date mode."""
    import xlrd

    book = xlrd.open_workbook(str(path))
    sheet = book.sheet_by_index(0)
    cells = [[sheet.cell_value(r, c) for c in range(sheet.ncols)] for r in range(sheet.nrows)]
    header_at = next(i for i, row in enumerate(cells) if str(row[0]).strip() == HEADER_FIRST_CELL)
    header = [str(h).strip() for h in cells[header_at]]
    rows = []
    for number, row in enumerate(cells[header_at + 1 :], header_at + 2):
        values = dict(zip(header, row, strict=False))
        if (
            str(row[0]).strip().upper().startswith("TOTAL")
            or not str(values.get("CODIGO DANE", "")).strip()
        ):
            break  # the TOTAL row, then footnotes
        values["_row"] = number
        rows.append(values)
    return rows, book.datemode


def read_co_policia_homicidios(path: Path) -> Iterator[SourceRecord]:
    rows, datemode = _police_rows(path)
    for values in rows:
        yield f"row {values['_row']}", _police_incident(path, values, datemode)


def count_co_policia_homicidios(path: Path) -> int:
    return len(_police_rows(path)[0])


def _police_incident(
    path: Path, values: dict[str, Any], datemode: int
) -> IncidentIn | list[FieldError]:
    occurred = _police_date(values["FECHA HECHO"], datemode)
    dane = str(values["CODIGO DANE"]).strip().split(".")[0].zfill(8)[:5]
    try:
        victims = int(float(values["CANTIDAD"]))
    except (TypeError, ValueError):
        return [FieldError("CANTIDAD", "API-104")]
    if occurred is None:
        return [FieldError("FECHA HECHO", "REC-104")]
    victim = {
        "role": "victim",
        "sex": _translate("sex", str(values["GENERO"])),
        "age_group": _translate("age_group", str(values["AGRUPA EDAD PERSONA"])),
    }
    return IncidentIn(
        reference=f"{path.stem}#{values['_row']}",
        occurred_from=occurred.isoformat(),
        area=f"CO-{dane[:2]}-{dane[2:]}",
        offences=[
            {
                "national_scheme": "co-policia-homicidios",
                "national_code": "homicidio",
                "weapon": _translate("weapon", str(values["ARMAS MEDIOS"])),
            }
        ],
        persons=[victim] * victims,
    )


def _police_date(value: Any, datemode: int) -> dt.date | None:
    import xlrd

    if isinstance(value, float):
        return xlrd.xldate.xldate_as_datetime(value, datemode).date()
    try:
        return dt.datetime.strptime(str(value).strip(), "%d/%m/%Y").date()
    except ValueError:
        return None


Reader = Callable[[Path], Iterator[SourceRecord]]
FORMATS: dict[str, tuple[Reader, Callable[[Path], int]]] = {
    "jsonl": (read_jsonl, count_jsonl),
    "co-policia-homicidios": (read_co_policia_homicidios, count_co_policia_homicidios),
    "nibrs": (read_nibrs, count_nibrs),
    "csv": (read_csv, count_csv),
}
