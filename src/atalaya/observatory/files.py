"""Reading publishers' CSV files: their encoding, their columns, their counts, and the
problems found on the way, each with its code and line.

A reader collects every problem of a file rather than stopping at the first, so that
one run tells the user all that must be fixed; nothing is stored while any remains.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.errors import DomainError, FieldError
from atalaya.geo.models import Area, AreaCode

# Problems kept to show; all are counted.
KEEP_PROBLEMS = 200
# A whole number, with or without thousands separators ("1,000"), possibly negative.
_COUNT = re.compile(r"^-?(?:\d{1,3}(?:,\d{3})+|\d+)$")


@dataclass
class Problems:
    """The problems found in a file: how many, and the first ``KEEP_PROBLEMS`` of them."""

    found: int = 0
    kept: list[FieldError] = field(default_factory=list)

    def add(self, code: str, field: str, line: int, /, **params: object) -> None:
        """Note problem ``code`` on ``line``, in ``field`` (a column, or ``row``)."""
        self.found += 1
        if len(self.kept) < KEEP_PROBLEMS:
            self.kept.append(FieldError(field, code, {"line": line, **params}))

    def count(self, text: str, column: str, line: int) -> int | None:
        """Return ``text`` as a count (``1,000`` is a thousand); ``None``, with the problem
        noted, when it is not a whole number or is negative."""
        if text.isdigit():
            return int(text)
        if not _COUNT.match(text):
            self.add("OBS-107", column, line, column=column, value=text)
            return None
        number = int(text.replace(",", ""))
        if number < 0:
            self.add("OBS-106", column, line, column=column, value=text)
            return None
        return number

    def error(self) -> DomainError:
        return DomainError("OBS-110", params={"count": self.found}, errors=self.kept)


def decode(data: bytes, encoding: str) -> str:
    """Return ``data`` decoded; raise ``OBS-102`` when it is not in ``encoding``.

    Latin-1 can decode any bytes, so a file that is valid UTF-8 beyond ASCII is taken
    for what it is: a UTF-8 file, whose accented letters would otherwise be garbled.
    """
    if encoding == "latin-1":
        if not data.isascii() and _is_utf8(data):
            raise _encoding_error(encoding, data, _first_non_ascii(data))
        return data.decode("latin-1")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _encoding_error(encoding, data, error.start) from None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _first_non_ascii(data: bytes) -> int:
    return next(i for i, byte in enumerate(data) if byte > 127)


def _encoding_error(encoding: str, data: bytes, offset: int) -> DomainError:
    line = data.count(b"\n", 0, offset) + 1
    return DomainError("OBS-102", field="file", params={"encoding": encoding, "line": line})


@dataclass
class CsvTable:
    """A CSV file's rows as lists, with the position of each column by name."""

    columns: dict[str, int]
    width: int
    rows: Iterator[tuple[int, list[str]]]


def table(data: bytes, encoding: str, required: tuple[str, ...], format: str) -> CsvTable:
    """Return the rows of the CSV file ``data``, numbered as an editor shows them.

    Raises ``OBS-103`` when a column of ``required`` is missing (or the file is empty),
    ``OBS-102`` when the file has the columns but is not in ``encoding``. Blank lines are
    skipped.
    """
    try:
        text = decode(data, encoding)
    except DomainError:
        # A file of another format is that, whatever its encoding.
        _check_columns(_header(data), required, format)
        raise
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip() for name in next(reader, [])]
    _check_columns(header, required, format)
    columns = {name: header.index(name) for name in required}

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for row in reader:
                if any(cell.strip() for cell in row):
                    yield reader.line_num, row
        except csv.Error:
            raise DomainError(
                "OBS-103", field="file", params={"format": format, "columns": ", ".join(header)}
            ) from None

    return CsvTable(columns, len(header), rows())


def _header(data: bytes) -> list[str]:
    first = data.split(b"\n", 1)[0]
    try:
        line = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        line = first.decode("latin-1")
    return [name.strip() for name in next(csv.reader([line]), [])]


def _check_columns(header: list[str], required: tuple[str, ...], format: str) -> None:
    missing = [name for name in required if name not in header]
    if missing:
        raise DomainError(
            "OBS-103", field="file", params={"format": format, "columns": ", ".join(missing)}
        )


def check_width(row: list[str], width: int, line: int, problems: Problems) -> bool:
    """Return whether ``row`` has as many fields as the header; note the problem if not."""
    if len(row) == width:
        return True
    problems.add("OBS-111", "row", line, found=len(row), expected=width)
    return False


class AreaIndex:
    """Areas by national statistical code (``INEGI`` ``08``), read once per import."""

    def __init__(self, session: Session) -> None:
        rows = session.execute(
            select(AreaCode.scheme, AreaCode.value, Area.code).join(
                Area, Area.code == AreaCode.area_code
            )
        )
        self._by_national_code = {(scheme, value): code for scheme, value, code in rows}
        self.paths: dict[str, str] = dict(session.execute(select(Area.code, Area.path)).all())

    def by_national_code(self, scheme: str, value: str) -> str | None:
        """Return the code of the area with national code ``value`` in ``scheme``."""
        return self._by_national_code.get((scheme, value))
