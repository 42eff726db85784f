"""Identifiers of things: vehicle identification numbers, plates, serials, documents.

``normalise_*`` return the form used for storing, comparing and blinding (upper case,
no spaces or separators); ``None`` when nothing usable is left.
"""

from __future__ import annotations

import re
import unicodedata

# ISO 3779 / 49 CFR 565: letters I, O and Q never appear in a VIN.
_VIN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
_TRANSLITERATION = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7, "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}  # fmt: skip
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def _compact(value: str) -> str:
    """Upper case, accents removed, only letters and digits kept."""
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Z0-9]", "", folded.upper())


def normalise_vin(value: str) -> str | None:
    """Return the 17-character VIN in ``value``, or ``None`` if it is not one."""
    vin = _compact(value)
    return vin if _VIN.match(vin) else None


def vin_check_digit(vin: str) -> str:
    """Return the check digit (position 9) that a VIN's other characters call for."""
    total = sum(_TRANSLITERATION[c] * w for c, w in zip(vin, _WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def vin_check_digit_applies(vin: str) -> bool:
    """Return whether the check digit is mandatory for ``vin``.

    North American VINs (first character 1-5: United States, Canada, Mexico) must carry
    it; elsewhere position 9 may be anything, so it is not checked.
    """
    return vin[0] in "12345"


def vin_is_valid(vin: str) -> bool:
    """Return whether a normalised VIN passes its check digit, where one applies."""
    return not vin_check_digit_applies(vin) or vin[8] == vin_check_digit(vin)


def normalise_plate(value: str) -> str | None:
    """Return a plate number without spaces, dashes or dots, in upper case."""
    return _compact(value) or None


def normalise_serial(value: str) -> str | None:
    """Return a firearm serial number in upper case without separators."""
    return _compact(value) or None


def normalise_document_number(value: str) -> str | None:
    """Return an identity document number in upper case without separators."""
    return _compact(value) or None
