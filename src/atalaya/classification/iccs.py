"""The ICCS 1.0 code list (UNODC, 2015), read once per process from ``data/iccs-1.0.csv``."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal, cast

from atalaya.datafiles import read_commented_csv

DATA_DIR = Path(__file__).parent / "data"
ICCS_FILE = DATA_DIR / "iccs-1.0.csv"
LANGUAGES = ("en", "es", "pt", "fr")
DIGITS_BY_LEVEL = {"section": 2, "division": 4, "group": 5, "class": 6}
LEVEL_ABOVE = {"division": "section", "group": "division", "class": "group"}
ICCS_COLUMNS = ("code", "level", "parent", "name_en", "name_es", "name_pt", "name_fr", "attempt")
ATTEMPT_RULES = ("separate", "not_applicable", "allowed")
# ICCS skips 0108 on purpose; a file that has it was copied from a faulty transcription.
NONEXISTENT_CODES = frozenset({"0108"})

Level = Literal["section", "division", "group", "class"]
Attempt = Literal["separate", "not_applicable", "allowed"]


class ClassificationFileError(ValueError):
    """A classification or crosswalk data file is malformed; the message names file and line."""

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        where = f"{path.name}, line {line}" if line else path.name
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class IccsCode:
    code: str
    level: Level
    parent: str | None
    # Read-only and left out of the hash so codes can live in sets and dict keys.
    names: Mapping[str, str] = field(hash=False)
    attempt: Attempt


def read_data_file(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """Return ``(line number, row)`` pairs of a CSV whose comment lines start with ``#``.

    Line numbers count from the top of the file, comments included, so errors point at
    the line an editor shows. Raises ``ClassificationFileError`` when a column in
    ``columns`` is missing or a row has the wrong number of fields.
    """
    data = read_commented_csv(path.read_text(encoding="utf-8"))
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ClassificationFileError(path, None, f"missing column(s): {', '.join(missing)}")
    for line, row in data.rows:
        if None in row or None in row.values():
            raise ClassificationFileError(path, line, "wrong number of fields")
    return data.rows


class Iccs:
    """The ICCS tree: lookups by code, children, ancestry and recording rules."""

    def __init__(self, codes: list[IccsCode]) -> None:
        self._codes = {c.code: c for c in codes}
        self._children: dict[str, list[str]] = {c.code: [] for c in codes}
        for c in codes:
            if c.parent is not None:
                self._children[c.parent].append(c.code)

    def __iter__(self) -> Iterator[IccsCode]:
        return iter(self._codes.values())

    def __len__(self) -> int:
        return len(self._codes)

    def __contains__(self, code: object) -> bool:
        return code in self._codes

    def get(self, code: str) -> IccsCode | None:
        """Return the code, or ``None`` when ICCS 1.0 has no such code."""
        return self._codes.get(code)

    def _known(self, code: str) -> IccsCode:
        found = self._codes.get(code)
        if found is None:
            raise KeyError(f"{code!r} is not an ICCS 1.0 code")
        return found

    def children(self, code: str) -> list[IccsCode]:
        """Return the codes one level below ``code``, in file order (empty for a leaf).

        Raises ``KeyError`` for an unknown code.
        """
        self._known(code)
        return [self._codes[child] for child in self._children[code]]

    def descendants(self, code: str) -> list[IccsCode]:
        """Return every code below ``code``, depth first; ``code`` itself is not included."""
        found = []
        for child in self.children(code):
            found.append(child)
            found.extend(self.descendants(child.code))
        return found

    def is_within(self, code: str, ancestor: str) -> bool:
        """Return whether ``code`` is ``ancestor`` or lies below it; ``False`` for unknown codes."""
        current = self._codes.get(code)
        while current is not None:
            if current.code == ancestor:
                return True
            current = self._codes.get(current.parent) if current.parent else None
        return False

    def name(self, code: str, language: str = "en") -> str:
        """Return the title in ``language``, or the English title when that one is empty."""
        names = self._known(code).names
        return names.get(language) or names["en"]

    def is_other(self, code: str) -> bool:
        """Return whether ``code`` is an "other ..." residual category (its last digit is 9)."""
        return self._known(code).code.endswith("9")

    def recordable(self, code: str) -> bool:
        """Return whether an offence may be recorded under ``code``.

        ICCS asks for the most detailed code available, so a section, division or group
        that has sub-codes is too coarse. Unknown codes are not recordable.
        """
        return code in self._codes and not self._children[code]

    def attempt_allowed(self, code: str) -> bool:
        """Return whether an offence under ``code`` may carry the attempted flag.

        ``False`` both where the act cannot be attempted and where ICCS files the attempt
        under a separate code (0101: attempts are 0102).
        """
        return self._known(code).attempt == "allowed"


@functools.cache
def iccs() -> Iccs:
    """Return the ICCS 1.0 tree, loaded and validated on first use.

    Raises ``ClassificationFileError`` naming the first bad line.
    """
    return load_iccs(ICCS_FILE)


def load_iccs(path: Path) -> Iccs:
    """Return the ICCS tree read from ``path``; raises ``ClassificationFileError`` if invalid."""
    codes: dict[str, IccsCode] = {}
    for line, row in read_data_file(path, ICCS_COLUMNS):
        code = _parse_code(path, line, row, codes)
        codes[code.code] = code
    return Iccs(list(codes.values()))


def _parse_code(path: Path, line: int, row: dict[str, str], seen: dict[str, IccsCode]) -> IccsCode:
    def fail(problem: str) -> ClassificationFileError:
        return ClassificationFileError(path, line, problem)

    code, level, parent = row["code"], row["level"], row["parent"] or None
    if level not in DIGITS_BY_LEVEL:
        raise fail(f"unknown level {level!r}")
    if not code.isdigit() or len(code) != DIGITS_BY_LEVEL[level]:
        raise fail(f"code {code!r} does not have the {DIGITS_BY_LEVEL[level]} digits of a {level}")
    if code in NONEXISTENT_CODES:
        raise fail(f"code {code} does not exist in ICCS 1.0")
    if code in seen:
        raise fail(f"code {code} appears twice")
    # Parents come before their children in the file, so an unseen parent is a missing one.
    if (level == "section") != (parent is None):
        raise fail(f"{level} {code} has the wrong kind of parent {parent!r}")
    if parent is not None and (parent not in seen or not code.startswith(parent)):
        raise fail(f"parent {parent} of {code} is not a code above it in the file")
    if parent is not None and seen[parent].level != LEVEL_ABOVE[level]:
        raise fail(f"parent {parent} of {level} {code} is not a {LEVEL_ABOVE[level]}")
    if row["attempt"] not in ATTEMPT_RULES:
        raise fail(f"attempt must be one of {', '.join(ATTEMPT_RULES)}, not {row['attempt']!r}")
    names = MappingProxyType({lang: row[f"name_{lang}"] for lang in LANGUAGES})
    if not names["en"]:
        raise fail(f"code {code} has no English title")
    return IccsCode(code, cast(Level, level), parent, names, cast(Attempt, row["attempt"]))
