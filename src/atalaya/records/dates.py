"""Partial dates: ``2021``, ``2021-03``, ``2021-03-14`` or ``2021-03-14T22:30``; and the
moments (``reported_at``, the list's ``occurred_since``) given as ISO 8601 text.

Police often know only the month, or the day, of an offence; the record keeps what is
known and no more. A partial date stands for the span of time it covers.

Digits are ASCII only: Python's ``int()`` and ``\\d`` take Arabic-Indic or full-width
digits too (``٢٠٢٤``), which would be stored as typed and compare as nothing else does.
Nothing in a record happened, and nobody in one was born, before ``FIRST_YEAR``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated

from pydantic import BeforeValidator, TypeAdapter, ValidationError

# The earliest year of an incident, a report or a date of birth (rule REC-120).
FIRST_YEAR = 1900

_PATTERN = re.compile(
    r"^(?P<y>[0-9]{4})(?:-(?P<m>[0-9]{2})(?:-(?P<d>[0-9]{2})(?:T(?P<H>[0-9]{2}):(?P<M>[0-9]{2}))?)?)?$"
)
# The start every moment's text must have: a whole date, in ASCII digits.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


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


def _iso_text(value: object) -> object:
    """Pass a datetime, or text that begins with a whole ISO 8601 date, on to pydantic;
    refuse anything else, which pydantic would otherwise read as seconds since 1970
    (``0``, ``20240101``)."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        return value
    raise ValueError("write the moment as YYYY-MM-DDTHH:MM[:SS], with an offset or in UTC")


# A moment given as ISO 8601 text (``2026-11-20T23:40:00Z``); a date alone is midnight.
Moment = Annotated[dt.datetime, BeforeValidator(_iso_text)]


def read_moment(text: str) -> dt.datetime | None:
    """Return the ``Moment`` that ``text`` gives, or ``None`` if it gives none."""
    try:
        return _MOMENT.validate_python(text)
    except ValidationError:
        return None


_MOMENT: TypeAdapter[dt.datetime] = TypeAdapter(Moment)


def before_first_year(moment: dt.datetime) -> bool:
    """Return whether ``moment`` lies before ``FIRST_YEAR``: too early for a record."""
    return moment.year < FIRST_YEAR
