"""The ``csv`` format: one incident per row, its repeated parts in numbered column groups.

``records export --format csv`` writes it (``columns``, ``cells``) and ``records import
--format csv`` reads it back (``read_csv``), so an export imports again unchanged.
docs/records.md lists the columns. An incident's fields have their own columns
(``reference``, ``area``...); the n-th offence, person, vehicle, firearm or document has
``offence{n}_iccs``, ``person{n}_age``..., one column per field of the import shape.

Made to be filled in by hand in a spreadsheet too: header names ignore case, spaces,
``_`` and ``-`` (``Person 1 Age`` is ``person1_age``); UTF-8 with or without a byte-order
mark; ``;``, ``,`` or a tab between cells, whichever the header uses; blank cells are
absent values; yes/no cells take the words in ``YES`` and ``NO``; coordinates may have a
decimal comma. Everything else is left for the schema and the rules to judge, so a cell
that cannot be read is reported as the API reports it (``API-104 persons.0.age``).

Text the export wrote with a quote in front, so that a spreadsheet does not take it for
a formula (``'=HYPERLINK(...)``, ``atalaya.cells``), is read back without it.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from atalaya.cells import neutralise, restore
from atalaya.errors import DomainError, FieldError, field_errors_from_pydantic
from atalaya.records.imports import SourceRecord
from atalaya.records.schema import (
    DocumentIn,
    FirearmIn,
    IncidentIn,
    OffenceIn,
    PersonIn,
    VehicleIn,
)

if TYPE_CHECKING:
    from _csv import Reader


@dataclass(frozen=True)
class Part:
    """A repeated part of an incident: columns ``{prefix}{n}_{field}``, n from 1."""

    prefix: str
    key: str  # the record's list
    fields: tuple[str, ...]


def _part(prefix: str, key: str, model: type[BaseModel]) -> Part:
    return Part(prefix, key, tuple(model.model_fields))


PARTS = (
    _part("offence", "offences", OffenceIn),
    _part("person", "persons", PersonIn),
    _part("vehicle", "vehicles", VehicleIn),
    _part("firearm", "firearms", FirearmIn),
    _part("document", "documents", DocumentIn),
)
INCIDENT_FIELDS = tuple(f for f in IncidentIn.model_fields if f not in {p.key for p in PARTS})
# Written by the export for its readers; an import takes the agency from --agency and
# numbers the versions itself, so it skips them.
EXPORT_ONLY = ("agency", "version")
BOOLEAN_FIELDS = frozenset({"restricted", "attempted"})
DECIMAL_FIELDS = frozenset({"latitude", "longitude"})
# What spreadsheets and people write for yes and no, in the interface's languages.
YES = frozenset(
    {"true", "yes", "sí", "si", "1", "x", "verdadero", "verdadeiro", "sim", "vrai", "oui"}
)
NO = frozenset({"false", "no", "0", "falso", "não", "nao", "faux", "non"})
DELIMITERS = (";", ",", "\t")

# Where a column goes: ("", 0, field) for the incident's own, (list, n, field) for the
# n-th of a part (n as numbered in the header, from 1).
Key = tuple[str, int, str]


# Writing ----------------------------------------------------------------------------


def columns(groups: Mapping[str, int]) -> list[str]:
    """Return the header for ``groups[part.key]`` column groups of each part."""
    incident = [f for f in INCIDENT_FIELDS if f != "reference"]
    numbered = [
        f"{part.prefix}{n}_{name}"
        for part in PARTS
        for n in range(1, groups[part.key] + 1)
        for name in part.fields
    ]
    return ["agency", "reference", "version", *incident, *numbered]


def cells(record: Mapping[str, Any]) -> dict[str, str]:
    """Return an incident as recorded (the import shape, as JSON) as cells by column;
    the export-only columns are the caller's."""
    row = {name: _cell(record.get(name)) for name in INCIDENT_FIELDS}
    for part in PARTS:
        for n, item in enumerate(record.get(part.key) or [], 1):
            row |= {f"{part.prefix}{n}_{name}": _cell(item.get(name)) for name in part.fields}
    return row


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(neutralise(value))  # text only: a negative coordinate stays a number


# Reading ----------------------------------------------------------------------------


def read_csv(path: Path) -> Iterator[SourceRecord]:
    """Yield each row of ``path`` as an incident, or why it cannot be one, as ``row N``
    (the line the row starts on; the header is row 1). Blank rows are skipped.

    Raises ``DomainError`` for a file that cannot be read at all, before yielding
    anything when the fault is in the header: a column that is not in the layout or
    comes twice (``API-103``, naming it), a line that is not UTF-8 (``API-110``), a
    quote that never closes or text after a closing quote (``API-104``, naming the line
    the row starts on).
    """
    for number, row in _rows(path):
        yield f"row {number}", _incident(row)


def count_csv(path: Path) -> int:
    """Return how many records ``read_csv`` yields. Reading the whole file, it raises
    the same file errors, so the command (which counts first) stores nothing then."""
    return sum(1 for _ in _rows(path))


@dataclass
class _Row:
    values: dict[str, Any]  # the import shape, with text values
    stray: list[int]  # columns (from 1) past the header's with something in them


def _rows(path: Path) -> Iterator[tuple[int, _Row]]:
    with path.open("rb") as binary:
        lines = _text_lines(binary)
        first = next(lines, None)
        if first is None:
            return
        delimiter = max(DELIMITERS, key=first.count)
        # Strict: a quote left open would otherwise swallow the rest of the file.
        reader = csv.reader(itertools.chain([first], lines), delimiter=delimiter, strict=True)
        rows = _numbered(reader)
        keys = _header(next(rows)[1])
        for start, row in rows:
            if any(cell.strip() for cell in row):
                yield start, _place(keys, row)


def _numbered(reader: Reader) -> Iterator[tuple[int, list[str]]]:
    """Yield each row with the line it starts on; raise ``API-104`` at broken quoting."""
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:
            raise DomainError("API-104", field=f"line {start}") from None
        yield start, row


def _text_lines(lines: Iterable[bytes]) -> Iterator[str]:
    """Yield the lines as text, with their line ends and without a byte-order mark."""
    for number, raw in enumerate(lines, 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DomainError("API-110", field=f"line {number}") from None
        yield text.removeprefix("\ufeff") if number == 1 else text


def _fold(name: str) -> str:
    return re.sub(r"[\s_-]", "", name).casefold()


_INCIDENT_KEYS: dict[str, Key] = {_fold(name): ("", 0, name) for name in INCIDENT_FIELDS}
_PART_FIELDS = {p.prefix: (p.key, {_fold(name): name for name in p.fields}) for p in PARTS}


def _header(names: list[str]) -> list[Key | None]:
    """Return where each column goes (``None``: the export's own columns and columns
    without a name, skipped); raise ``API-103`` for a name not in the layout or repeated."""
    keys: list[Key | None] = []
    seen: set[Key] = set()
    for name in names:
        key = _key(name)
        if key is not None:
            if key in seen:
                raise DomainError("API-103", field=name.strip())
            seen.add(key)
        keys.append(key)
    return keys


def _key(name: str) -> Key | None:
    folded = _fold(name)
    if not folded or folded in EXPORT_ONLY:
        return None
    if folded in _INCIDENT_KEYS:
        return _INCIDENT_KEYS[folded]
    group = re.fullmatch(r"([a-z]+)([1-9][0-9]*)(.+)", folded)
    if group and group[1] in _PART_FIELDS:
        key, fields = _PART_FIELDS[group[1]]
        if group[3] in fields:
            return key, int(group[2]), fields[group[3]]
    raise DomainError("API-103", field=name.strip())


def _place(keys: list[Key | None], row: list[str]) -> _Row:
    """Return a row's non-blank cells in the import shape; parts in the order of their
    numbers, leaving out numbers with every cell blank."""
    values: dict[str, Any] = {}
    parts: dict[str, dict[int, dict[str, Any]]] = {part.key: {} for part in PARTS}
    for key, cell in zip(keys, row, strict=False):
        text = restore(cell.strip()).strip()
        if key is None or not text:
            continue
        within, n, name = key
        if within:
            parts[within].setdefault(n, {})[name] = _value(name, text)
        else:
            values[name] = _value(name, text)
    for within, numbered in parts.items():
        if numbered:
            values[within] = [numbered[n] for n in sorted(numbered)]
    stray = [i for i, text in enumerate(row[len(keys) :], len(keys) + 1) if text.strip()]
    return _Row(values, stray)


def _value(name: str, text: str) -> object:
    """Return a cell as the schema takes it: yes/no words as booleans, a decimal comma
    as a point, anything else as written (the schema refuses what it cannot read)."""
    if name in BOOLEAN_FIELDS:
        word = text.casefold()
        return True if word in YES else False if word in NO else text
    if name in DECIMAL_FIELDS and re.fullmatch(r"[+-]?[0-9]+,[0-9]+", text):
        return text.replace(",", ".")
    return text


def _incident(row: _Row) -> IncidentIn | list[FieldError]:
    errors = [FieldError(f"column {n}", "API-103") for n in row.stray]
    try:
        incident = IncidentIn.model_validate(row.values)
    except ValidationError as error:
        return errors + field_errors_from_pydantic(error.errors())
    return errors or incident
