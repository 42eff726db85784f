"""Cells of the files spreadsheets open (CSV, XLSX, SDMX-CSV), made safe to open.

A spreadsheet takes a cell that begins with ``=``, ``+``, ``-`` or ``@`` (and, in some,
a tab or a carriage return before one) as a formula: ``=HYPERLINK(...)`` typed into a
narrative would run when an analyst opens the export. Following OWASP's advice on CSV
injection, every export writes such a text cell with a single quote in front, which
spreadsheets show as text. Numbers and dates are written as they are (a negative
number stays a number); only text is touched.

A text cell that already begins with a quote gets one more, so that ``restore``, which
readers of our own files call (``records import --format csv``, ``stats import
--format sdmx-csv``), gives back exactly the text that was exported.
"""

from __future__ import annotations

from typing import TypeVar

# What a spreadsheet may take for the start of a formula (OWASP, "CSV Injection"), and
# the full-width forms of the four signs, which some spreadsheets read as the signs.
FORMULA_STARTS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
QUOTE = "'"
_QUOTED = FORMULA_STARTS | {QUOTE}

T = TypeVar("T")


def neutralise(value: T) -> T | str:
    """Return ``value`` as a spreadsheet cannot take it for a formula: text beginning with
    one of ``FORMULA_STARTS`` (or with a quote) with a quote in front; anything else,
    numbers and dates included, unchanged."""
    if isinstance(value, str) and value[:1] in _QUOTED:
        return QUOTE + value
    return value


def restore(text: str) -> str:
    """Return the text ``neutralise`` was given for ``text``, the cell it wrote: one quote
    fewer where it added one. Other text, filled in by hand, is returned as it is."""
    if text[:1] == QUOTE and text[1:2] in _QUOTED:
        return text[1:]
    return text
