"""Log lines: the formatter's timestamps, and the request id on every line."""

from __future__ import annotations

import logging

from hypothesis import given
from hypothesis import strategies as st

from atalaya.web.middleware import LineFormatter, RequestIdFilter, request_id_var

FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


def record(created: float) -> logging.LogRecord:
    r = logging.LogRecord("atalaya.access", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
    r.created, r.msecs = created, (created - int(created)) * 1000 // 1
    RequestIdFilter().filter(r)
    return r


# Times from 2001 to 2100, in any order, with repeats within a second.
@given(st.lists(st.floats(min_value=1e9, max_value=4.1e9), min_size=1, max_size=40))
def test_lines_are_those_of_the_standard_formatter(times: list[float]) -> None:
    ours, standard = LineFormatter(FORMAT), logging.Formatter(FORMAT)
    for t in times + [t + 0.25 for t in times]:
        assert ours.format(record(t)) == standard.format(record(t))


def test_a_line_carries_the_current_request_id() -> None:
    token = request_id_var.set("0123456789abcdef0123456789abcdef")
    try:
        line = LineFormatter(FORMAT).format(record(1.8e9))
    finally:
        request_id_var.reset(token)
    assert "INFO [0123456789abcdef0123456789abcdef] atalaya.access: GET /x" in line
    assert line.startswith("2027-01-15 ")
