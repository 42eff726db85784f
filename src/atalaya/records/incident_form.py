"""The incident form: the record a filled-in form describes, and a record as a form.

Fields are named after the record's (``reported_at``, ``offences.0.iccs``,
``vehicles.1.vin``), so that an error's field names the input it belongs beside. Each
part (offences, persons, vehicles, firearms, documents) has rows; blank rows are left
out of the record, and ``on_form`` maps an item's place in the record back to its row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from annotated_types import MaxLen
from pydantic import BaseModel

from atalaya.records.schema import (
    DocumentIn,
    FirearmIn,
    IncidentIn,
    OffenceIn,
    PersonIn,
    VehicleIn,
)

# The parts of the form: how many blank rows a new form offers, and the shape of a row.
PARTS: dict[str, tuple[int, type[BaseModel]]] = {
    "offences": (3, OffenceIn),
    "persons": (6, PersonIn),
    "vehicles": (2, VehicleIn),
    "firearms": (2, FirearmIn),
    "documents": (2, DocumentIn),
}
TOP_FIELDS = [name for name in IncidentIn.model_fields if name not in PARTS]
# Rows added by a part's "more" button.
MORE_ROWS = 3


def max_rows(part: str) -> int:
    """Return the most items of ``part`` a record may have (the schema's limit)."""
    metadata = IncidentIn.model_fields[part].metadata
    return next(m.max_length for m in metadata if isinstance(m, MaxLen))


def rows_of(form: Mapping[str, str]) -> dict[str, int]:
    """Return how many rows of each part to show: those the form had, at least the blank
    rows of a new form. Row numbers past a part's limit are ignored."""
    rows = {}
    for part, (blank, _) in PARTS.items():
        given = [key.split(".")[1] for key in form if key.startswith(f"{part}.")]
        numbers = [int(n) for n in given if n.isascii() and n.isdigit() and len(n) <= 4]
        rows[part] = max(blank, min(max(numbers, default=-1) + 1, max_rows(part)))
    return rows


def rows_for_record(record: Mapping[str, Any]) -> dict[str, int]:
    """Return how many rows of each part to show for a record: one blank row beyond its
    items, at least the blank rows of a new form."""
    return {
        part: min(max(blank, len(record.get(part) or []) + 1), max_rows(part))
        for part, (blank, _) in PARTS.items()
    }


def with_more_rows(rows: Mapping[str, int], part: str) -> dict[str, int]:
    """Return ``rows`` with ``MORE_ROWS`` more for ``part`` (unless it is no part)."""
    more = dict(rows)
    if part in more:
        more[part] = min(more[part] + MORE_ROWS, max_rows(part))
    return more


def field_names(rows: Mapping[str, int]) -> set[str]:
    """Return the name of every field a form with ``rows`` shows, and of each part."""
    names = set(TOP_FIELDS) | set(PARTS)
    for part, (_, model) in PARTS.items():
        names |= {
            f"{part}.{row}.{name}" for row in range(rows[part]) for name in model.model_fields
        }
    return names


def record_from_form(
    form: Mapping[str, str], rows: Mapping[str, int]
) -> tuple[dict[str, Any], dict[str, list[int]]]:
    """Return the record a filled-in form describes, blank fields and rows left out, and
    for each part the form rows its items came from."""
    text = {k: v.strip() for k, v in form.items() if v.strip()}
    record = _values(text, "", IncidentIn, TOP_FIELDS)
    kept: dict[str, list[int]] = {}
    for part, (_, model) in PARTS.items():
        items = [(row, _values(text, f"{part}.{row}.", model)) for row in range(rows[part])]
        filled = [(row, item) for row, item in items if any(v is not False for v in item.values())]
        record[part] = [item for _, item in filled]
        kept[part] = [row for row, _ in filled]
    return record, kept


def _values(
    text: Mapping[str, str], prefix: str, model: type[BaseModel], names: list[str] | None = None
) -> dict[str, Any]:
    """Return the fields of ``model`` given under ``prefix``; a checkbox is True or False."""
    values: dict[str, Any] = {}
    for name in names or list(model.model_fields):
        if model.model_fields[name].annotation is bool:
            values[name] = text.get(prefix + name) == "on"
        elif prefix + name in text:
            values[name] = text[prefix + name]
    return values


def form_from_record(record: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Return the form fields that show ``record`` (a version's record), as typed."""
    form: dict[str, str] = {}
    for name, value in record.items():
        if isinstance(value, list):
            for row, item in enumerate(value):
                form |= form_from_record(item, f"{prefix}{name}.{row}.")
        elif value is True:
            form[prefix + name] = "on"
        elif value is not None and value is not False and value != "":
            form[prefix + name] = str(value)
    return form


def on_form(field: str, kept: Mapping[str, list[int]]) -> str:
    """Return the form field of a record's field: ``persons.1.age`` is the form's
    ``persons.3.age`` when rows 1 and 2 were left blank."""
    part, _, rest = field.partition(".")
    index, dot, name = rest.partition(".")
    rows = kept.get(part, [])
    if index.isdigit() and int(index) < len(rows):
        return f"{part}.{rows[int(index)]}{dot}{name}"
    return field
