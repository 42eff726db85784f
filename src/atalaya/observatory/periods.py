"""Periods of observations: a month (``2021-03``), a quarter (``2021-Q1``) or a year
(``2021``), and how the shorter ones add up into the longer ones."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, cached_property

from atalaya.errors import DomainError
from atalaya.observatory.models import Frequency

_PATTERN = re.compile(r"^(\d{4})(?:-Q([1-4])|-(0[1-9]|1[0-2]))?$")
MONTHS = {Frequency.ANNUAL: 12, Frequency.QUARTERLY: 3, Frequency.MONTHLY: 1}
# From the longest to the shortest.
FREQUENCIES = (Frequency.ANNUAL, Frequency.QUARTERLY, Frequency.MONTHLY)


@dataclass(frozen=True, order=True)
class Period:
    year: int
    month: int  # the first month of the period
    frequency: Frequency

    @classmethod
    def parse(cls, text: str, field: str = "period") -> Period:
        """Return the period written ``YYYY``, ``YYYY-Qn`` or ``YYYY-MM``; raise ``OBS-114``."""
        match = _PATTERN.match(text.strip())
        if match is None:
            raise DomainError("OBS-114", field=field, params={"value": text})
        year, quarter, month = match.groups()
        if quarter:
            return cls(int(year), (int(quarter) - 1) * 3 + 1, Frequency.QUARTERLY)
        if month:
            return cls(int(year), int(month), Frequency.MONTHLY)
        return cls(int(year), 1, Frequency.ANNUAL)

    @staticmethod
    @cache
    def month_of(year: int, month: int) -> Period:
        """Return the month (one object per month: importers make hundreds of thousands)."""
        return Period(year, month, Frequency.MONTHLY)

    @cached_property
    def label(self) -> str:
        if self.frequency is Frequency.MONTHLY:
            return f"{self.year}-{self.month:02d}"
        if self.frequency is Frequency.QUARTERLY:
            return f"{self.year}-Q{(self.month - 1) // 3 + 1}"
        return str(self.year)

    @property
    def last_month(self) -> int:
        return self.month + MONTHS[self.frequency] - 1

    def within(self, frequency: Frequency) -> Period:
        """Return the period of ``frequency`` (as long as this one or longer) holding it."""
        length = MONTHS[frequency]
        return Period(self.year, (self.month - 1) // length * length + 1, frequency)

    def parts(self, frequency: Frequency) -> int:
        """Return how many periods of ``frequency`` make up this one (0 if they are longer)."""
        return MONTHS[self.frequency] // MONTHS[frequency]


def shorter_or_equal(frequency: Frequency) -> tuple[Frequency, ...]:
    """Return the frequencies whose periods fit inside one of ``frequency``."""
    return FREQUENCIES[FREQUENCIES.index(frequency) :]
