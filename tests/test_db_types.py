"""Column types that must store exactly what SQLAlchemy's own would."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from atalaya.db import UTCDateTime

DIALECT = sqlite.dialect()
OURS = UTCDateTime().bind_processor(DIALECT)
PLAIN = DateTime().dialect_impl(DIALECT).bind_processor(DIALECT)

aware = st.datetimes(
    min_value=dt.datetime(1, 1, 2),
    max_value=dt.datetime(9999, 12, 30),
    timezones=st.sampled_from(
        [
            dt.UTC,
            dt.timezone(dt.timedelta(hours=-5)),
            dt.timezone(dt.timedelta(hours=5, minutes=30)),
        ]
    ),
)


@given(aware)
def test_sqlite_text_of_a_time_is_sqlalchemys(moment: dt.datetime) -> None:
    assert OURS is not None and PLAIN is not None
    assert OURS(moment) == PLAIN(moment.astimezone(dt.UTC).replace(tzinfo=None))


def test_whole_seconds_keep_their_microseconds_and_none_stays_none() -> None:
    assert OURS is not None
    assert OURS(dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)) == "2026-01-02 03:04:05.000000"
    assert OURS(None) is None


def test_a_naive_time_is_refused() -> None:
    assert OURS is not None
    with pytest.raises(ValueError, match="naive"):
        OURS(dt.datetime(2026, 1, 2))
