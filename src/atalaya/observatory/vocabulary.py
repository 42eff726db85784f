"""The observatory's vocabularies: indicators (``data/indicators.csv``) and the values
of the sex, age group and weapon dimensions (those of records, plus the total ``_T``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from atalaya.datafiles import read_commented_csv
from atalaya.observatory.models import TOTAL
from atalaya.records.vocabularies import vocabularies

DATA_DIR = Path(__file__).parent / "data"
# The dimensions a series may break down, each with the records vocabulary it uses.
BREAKDOWNS = ("sex", "age_group", "weapon")


@dataclass(frozen=True)
class Indicator:
    code: str
    additive: bool
    per_capita: bool
    description: str


@cache
def indicators() -> dict[str, Indicator]:
    """Return the indicators by code, read once from ``data/indicators.csv``."""
    text = (DATA_DIR / "indicators.csv").read_text(encoding="utf-8")
    return {
        row["code"]: Indicator(
            row["code"], row["additive"] == "yes", row["per_capita"] == "yes", row["description"]
        )
        for _, row in read_commented_csv(text).rows
    }


@cache
def dimension_values(dimension: str) -> frozenset[str]:
    """Return the values ``dimension`` (one of ``BREAKDOWNS``) may take, ``_T`` included."""
    return vocabularies()[dimension] | {TOTAL}
