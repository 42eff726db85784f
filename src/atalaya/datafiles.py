"""Reading the project's reference data files: CSV with a ``#`` comment header.

Every vocabulary, crosswalk and reference list ships as such a file, its source and
date in the comments (CONVENTIONS.md, habit 11).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass


@dataclass(frozen=True)
class CommentedCsv:
    columns: list[str]
    # (line number in the file, comments included, so errors point where an editor does; row)
    rows: list[tuple[int, dict[str, str]]]


def read_commented_csv(text: str) -> CommentedCsv:
    """Return the header and the numbered rows of ``text``, skipping lines starting ``#``.

    A row with more fields than the header has them under the key ``None``; one with
    fewer has ``None`` values: callers decide whether that is an error.
    """
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(line for _, line in lines)))
    # Row i of the reader is line i of the uncommented text (line 0 is the header);
    # quoted fields never span lines in these files.
    rows = [(lines[i][0] if i < len(lines) else i, row) for i, row in enumerate(reader, 1)]
    return CommentedCsv(list(reader.fieldnames or []), rows)
