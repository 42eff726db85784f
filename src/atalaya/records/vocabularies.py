"""The controlled vocabularies of records, read once from ``data/vocabularies.toml``."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

VOCABULARY_FILE = Path(__file__).parent / "data" / "vocabularies.toml"


@cache
def vocabularies() -> dict[str, frozenset[str]]:
    """Return every vocabulary by name."""
    with VOCABULARY_FILE.open("rb") as f:
        return {name: frozenset(values) for name, values in tomllib.load(f).items()}


def allowed(vocabulary: str, value: str) -> bool:
    return value in vocabularies()[vocabulary]
