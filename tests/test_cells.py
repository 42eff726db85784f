"""``atalaya.cells``: the one place exports make text safe for spreadsheets to open."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atalaya.cells import neutralise, restore


@pytest.mark.parametrize(
    "text",
    [
        "=1+1",
        "+1",
        "-2+3",
        "@SUM(A1)",
        "\t=1+1",
        "\r=1+1",
        '=HYPERLINK("x","y")',
        "＝1+1",
        "＠SUM(A1)",
    ],
)
def test_text_a_spreadsheet_would_take_for_a_formula_gets_a_quote_in_front(text: str) -> None:
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", [-3, -2.5, 0, 156, dt.date(2022, 5, 1), None, True])
def test_numbers_dates_and_nothing_are_left_as_they_are(value: object) -> None:
    assert neutralise(value) is value


@pytest.mark.parametrize("text", ["", "Juárez", "2025-06-01", " =1", "a=b", "1-2"])
def test_other_text_is_left_as_it_is(text: str) -> None:
    assert neutralise(text) == text


def test_a_quote_in_front_gets_another_so_that_restore_gives_it_back() -> None:
    assert neutralise("'quoted") == "''quoted"
    assert restore("''quoted") == "'quoted"


@pytest.mark.parametrize("text", ["'", "'quoted", "O'Brien", "plain"])
def test_restore_leaves_text_filled_in_by_hand_as_it_is(text: str) -> None:
    assert restore(text) == text


@given(st.text())
def test_restore_gives_back_what_neutralise_was_given(text: str) -> None:
    assert restore(neutralise(text)) == text
