"""Crosswalks from national crime classifications to ICCS 1.0, read from ``data/crosswalks/``."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from atalaya.classification.iccs import DATA_DIR, ClassificationFileError, iccs, read_data_file

CROSSWALK_DIR = DATA_DIR / "crosswalks"
# Scheme name -> file. A scheme whose classification is revised gets a new versioned file.
SCHEMES = {
    "mx-sesnsp": "mx-sesnsp-2018.csv",
    "ar-snic": "ar-snic.csv",
    "us-nibrs": "us-nibrs.csv",
    "co-policia-homicidios": "co-policia-homicidios.csv",
}
COLUMNS = ("national_code", "name", "iccs", "note")


@dataclass(frozen=True)
class Mapping:
    national_code: str
    name: str
    iccs: str | None
    note: str

    @property
    def mapped(self) -> bool:
        return self.iccs is not None


@dataclass(frozen=True)
class Coverage:
    mapped: int
    unmapped: int

    @property
    def total(self) -> int:
        return self.mapped + self.unmapped


class Crosswalk:
    """One national classification's codes, each with its ICCS code or the reason it has none."""

    def __init__(self, scheme: str, mappings: list[Mapping]) -> None:
        self.scheme = scheme
        self._mappings = {m.national_code: m for m in mappings}

    def __iter__(self) -> Iterator[Mapping]:
        return iter(self._mappings.values())

    def __len__(self) -> int:
        return len(self._mappings)

    def __contains__(self, national_code: object) -> bool:
        return national_code in self._mappings

    def map(self, national_code: str) -> Mapping:
        """Return the mapping of ``national_code``; ``iccs`` is ``None`` when no ICCS code fits.

        Raises ``KeyError`` for a code the crosswalk does not list: a code nobody has looked
        at is different from one deliberately left without ICCS code.
        """
        try:
            return self._mappings[national_code]
        except KeyError:
            raise KeyError(f"{national_code!r} is not a {self.scheme} code") from None

    def unmapped(self) -> list[Mapping]:
        """Return the codes that have no ICCS code, in file order, each with its reason."""
        return [m for m in self._mappings.values() if not m.mapped]


@functools.cache
def crosswalk(scheme: str) -> Crosswalk:
    """Return the crosswalk for ``scheme`` (one of ``SCHEMES``), loaded and validated on first use.

    Raises ``KeyError`` for an unknown scheme and ``ClassificationFileError`` for a bad file.
    """
    if scheme not in SCHEMES:
        raise KeyError(f"unknown crosswalk {scheme!r}; known: {', '.join(SCHEMES)}")
    return load_crosswalk(scheme, CROSSWALK_DIR / SCHEMES[scheme])


def load_crosswalk(scheme: str, path: Path) -> Crosswalk:
    """Return the crosswalk read from ``path``; raises ``ClassificationFileError`` if invalid.

    Every ICCS code must exist in ICCS 1.0, every national code must appear once, and a
    row without ICCS code must say why in ``note``.
    """
    tree = iccs()
    mappings: dict[str, Mapping] = {}
    for line, row in read_data_file(path, COLUMNS):
        code, target, note = row["national_code"], row["iccs"] or None, row["note"]
        if not code:
            raise ClassificationFileError(path, line, "national_code is empty")
        if code in mappings:
            raise ClassificationFileError(path, line, f"national code {code!r} appears twice")
        if target is not None and target not in tree:
            raise ClassificationFileError(path, line, f"{target!r} is not an ICCS 1.0 code")
        if target is None and not note:
            raise ClassificationFileError(path, line, f"{code!r} has no ICCS code and no note why")
        mappings[code] = Mapping(code, row["name"], target, note)
    return Crosswalk(scheme, list(mappings.values()))


def coverage(scheme: str) -> Coverage:
    """Return how many codes of ``scheme`` map to ICCS and how many do not."""
    mappings = list(crosswalk(scheme))
    unmapped = sum(1 for m in mappings if not m.mapped)
    return Coverage(mapped=len(mappings) - unmapped, unmapped=unmapped)
