"""Partial dates: ``2021``, ``2021-03``, ``2021-03-14`` or ``2021-03-14T22:30``.

Police often know only the month, or the day, of an offence; the record keeps what is
known and no more. A partial date stands for the span of time it covers.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

_PATTERN = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})(?:T(?P<H>\d{2}):(?P<M>\d{2}))?)?)?$"
)


@dataclass(frozen=True)
class PartialDate:
    """The first and last instants (UTC) of the span a partial date stands for."""

    text: str
    earliest: dt.datetime
    latest: dt.datetime


@lru_cache(maxsize=8192)
def parse_partial_date(text: str) -> PartialDate | None:
    """Return the span of ``text``, or ``None`` if it is not a valid partial date."""
    match = _PATTERN.match(text.strip())
    if not match:
        return None
    y, m, d, hh, mm = (int(v) if v else None for v in match.group("y", "m", "d", "H", "M"))
    assert y is not None
    try:
        if m is None:
            start, end = dt.datetime(y, 1, 1), dt.datetime(y, 12, 31, 23, 59, 59)
        elif d is None:
            last = calendar.monthrange(y, m)[1]
            start, end = dt.datetime(y, m, 1), dt.datetime(y, m, last, 23, 59, 59)
        elif hh is None:
            start, end = dt.datetime(y, m, d), dt.datetime(y, m, d, 23, 59, 59)
        else:
            start = dt.datetime(y, m, d, hh, mm or 0)
            end = start + dt.timedelta(seconds=59)
    except ValueError:
        return None
    return PartialDate(text.strip(), start.replace(tzinfo=dt.UTC), end.replace(tzinfo=dt.UTC))
