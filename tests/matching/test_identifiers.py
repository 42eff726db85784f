"""Identifiers are normalised before they are stored or compared; VINs are checked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atalaya.matching.identifiers import (
    normalise_document_number,
    normalise_plate,
    normalise_serial,
    normalise_vin,
    vin_check_digit,
    vin_is_valid,
)


@pytest.mark.parametrize("vin", ["1M8GDM9AXKP042788", "11111111111111111", "1HGCM82633A004352"])
def test_it_accepts_north_american_vins_with_the_right_check_digit(vin: str) -> None:
    assert vin_is_valid(vin)


@pytest.mark.parametrize("vin", ["1M8GDM9A1KP042788", "1HGCM82643A004352"])
def test_it_refuses_a_wrong_check_digit(vin: str) -> None:
    assert not vin_is_valid(vin)


def test_it_does_not_check_position_nine_outside_north_america() -> None:
    assert vin_is_valid("WVWZZZ1JZXW000001")
    assert vin_check_digit("1M8GDM9AXKP042788") == "X"


@pytest.mark.parametrize("raw", ["1m8 gdm9a-xkp 042788", " 1M8GDM9AXKP042788 "])
def test_it_normalises_vins_written_loosely(raw: str) -> None:
    assert normalise_vin(raw) == "1M8GDM9AXKP042788"


@pytest.mark.parametrize("raw", ["1M8GDM9AXKP04278", "1M8GDM9AXKP0427881", "IM8GDM9AXKP042788"])
def test_it_refuses_what_cannot_be_a_vin(raw: str) -> None:
    assert normalise_vin(raw) is None


def test_plates_serials_and_documents_lose_their_separators() -> None:
    assert normalise_plate("abc-12.3 ") == "ABC123"
    assert normalise_serial("ñ 12/34") == "N1234"
    assert normalise_document_number("G 123 456-7") == "G1234567"
    assert normalise_plate(" - ") is None


@given(st.text(max_size=30))
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = normalise_plate(text)
    assert once is None or normalise_plate(once) == once
    vin = normalise_vin(text)
    assert vin is None or normalise_vin(vin) == vin
