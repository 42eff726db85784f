"""``unodc-cts``: UNODC's data portal export (dataUNODC), one value a line.

Columns ``Iso3_code, Country, Region, Subregion, Indicator, Dimension, Category, Sex,
Age, Year, Unit of measurement, VALUE, Source`` (UTF-8), year periods, status
``final``. Each line becomes one observation of a series with an ICCS code and no
national category:

- ``Iso3_code`` (ISO 3166-1 alpha-3) is the country, for the 35 OAS member states;
  another code is refused (``OBS-105``);
- ``Indicator`` is looked up in ``INDICATORS`` for our indicator and its ICCS code; an
  indicator not listed there is refused (``OBS-108``);
- ``Unit of measurement``: ``Counts`` gives the count indicator, ``Rate per 100,000
  population`` the publisher's rate (``offences_per_100k_published``,
  ``victims_per_100k_published``), kept apart from the rates Atalaya computes;
- ``Sex`` Total, Male, Female: ``_T``, ``male``, ``female``; ``Age`` Total is ``_T``,
  an age group of our vocabulary is kept;
- ``Dimension`` Total (``Category`` Total), and ``by mechanisms`` where the category
  is one weapon of our vocabulary (``MECHANISMS``).

Lines that cannot be stored as such (other dimensions, mechanism categories spanning
several weapons, age groups not in our vocabulary, rates of persons, which have no
indicator, lines of the other source type) are not imported and are counted in
``StatisticsFile.not_imported`` by reason and listed in the import's report, never
dropped in silence.

A file holds one source: ``police`` (CTS figures) unless every line's ``Source``
names WHO or a health source, then ``health``; lines of the other type are not
imported (sources are never combined). The file does not name its edition: the
vintage must be given.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from pathlib import Path

from atalaya.errors import DomainError
from atalaya.observatory.files import AreaIndex, Problems, table
from atalaya.observatory.imports import (
    ObservationIn,
    Progress,
    SeriesKey,
    SourceInfo,
    StatisticsFile,
    read_table,
)
from atalaya.observatory.models import NONE, TOTAL, Frequency, SourceType, Status
from atalaya.observatory.periods import Period
from atalaya.observatory.vocabulary import dimension_values

FORMAT = "unodc-cts"
PUBLISHER = "UNODC"
DATASET = "dataUNODC: Crime and Criminal Justice Statistics (CTS)"
ISO3, INDICATOR, DIMENSION, CATEGORY = "Iso3_code", "Indicator", "Dimension", "Category"
SEX, AGE, YEAR, UNIT, VALUE, SOURCE = (
    "Sex",
    "Age",
    "Year",
    "Unit of measurement",
    "VALUE",
    "Source",
)
COLUMNS = (ISO3, INDICATOR, DIMENSION, CATEGORY, SEX, AGE, YEAR, UNIT, VALUE, SOURCE)
# UNODC's indicators read here: our indicator and the ICCS code. CTS counts persons
# "arrested/suspected" together: the wider of the two, persons suspected.
INDICATORS = {
    "Victims of intentional homicide": ("victims", "0101"),
    "Persons arrested/suspected for intentional homicide": ("persons_suspected", "0101"),
}
COUNTS, RATE = "Counts", "Rate per 100,000 population"
# The publisher's rates, by the count indicator they are a rate of.
PUBLISHED_RATE = {
    "offences": "offences_per_100k_published",
    "victims": "victims_per_100k_published",
}
SEXES = {"Total": TOTAL, "Male": "male", "Female": "female"}
# ``by mechanisms`` categories that are one weapon of our vocabulary. The others
# (``Firearms or explosives``, ``Another weapon``...) span several: not imported.
MECHANISMS = {
    "Firearms or explosives - firearms": "firearm",
    "Firearms or explosives - explosives": "explosive",
    "Another weapon - sharp object": "sharp_object",
    "Another weapon - blunt object": "blunt_object",
}
DIMENSION_TOTAL, DIMENSION_MECHANISMS = "Total", "by mechanisms"
# A ``Source`` naming a health source: the WHO, PAHO, or a ministry of health.
_HEALTH = re.compile(r"\b(WHO|PAHO|health|salud|sa[uú]de)\b", re.I)
_RATE = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)$")
# A count written with decimals that are all zero (``12.0``).
_WHOLE = re.compile(r"^(\d+)\.0+$")
FINAL = Status.FINAL
# ISO 3166-1 alpha-3 codes of the OAS member states, to our (alpha-2) country areas.
OAS = {
    "ATG": "AG", "ARG": "AR", "BHS": "BS", "BRB": "BB", "BLZ": "BZ", "BOL": "BO",
    "BRA": "BR", "CAN": "CA", "CHL": "CL", "COL": "CO", "CRI": "CR", "CUB": "CU",
    "DMA": "DM", "DOM": "DO", "ECU": "EC", "SLV": "SV", "GRD": "GD", "GTM": "GT",
    "GUY": "GY", "HTI": "HT", "HND": "HN", "JAM": "JM", "MEX": "MX", "NIC": "NI",
    "PAN": "PA", "PRY": "PY", "PER": "PE", "KNA": "KN", "LCA": "LC", "VCT": "VC",
    "SUR": "SR", "TTO": "TT", "USA": "US", "URY": "UY", "VEN": "VE",
}  # fmt: skip


def read_unodc(
    path: Path, areas: AreaIndex, vintage: dt.date | None, progress: Progress | None = None
) -> StatisticsFile:
    """Return what the UNODC file at ``path`` holds; problems are collected, not raised.

    Raises ``OBS-113`` without a vintage (the file does not name its edition),
    ``OBS-102`` or ``OBS-103`` for a file in another encoding or format.
    """
    if vintage is None:
        raise DomainError("OBS-113", field="vintage")
    rows = table(path.read_bytes(), "utf-8", COLUMNS, FORMAT)
    lines = list(rows.rows)  # read twice: the source type first, from every line
    health = bool(lines) and all(
        len(row) == rows.width and _HEALTH.search(row[rows.columns[SOURCE]]) for _, row in lines
    )
    source_type = SourceType.HEALTH if health else SourceType.POLICE
    found = StatisticsFile(
        SourceInfo(PUBLISHER, DATASET, source_type, vintage, FORMAT), areas.paths
    )
    read_table(found, replace(rows, rows=iter(lines)), _RowReader(rows.columns, areas, found).read,
               progress)  # fmt: skip
    return found


class _RowReader:
    def __init__(self, columns: dict[str, int], areas: AreaIndex, found: StatisticsFile) -> None:
        self.columns = columns
        self.areas = areas
        self.found = found
        self.problems: Problems = found.problems
        self.health = found.source.source_type is SourceType.HEALTH
        self.ages = dimension_values("age_group")
        self.first_line: dict[tuple[SeriesKey, int], int] = {}

    def read(self, line: int, row: list[str]) -> None:
        cell = {name: row[index].strip() for name, index in self.columns.items()}
        area = self._area(cell[ISO3], line)
        indicator = self._indicator(cell[INDICATOR], line)
        year = self._year(cell[YEAR], line)
        sex = self._sex(cell[SEX], line)
        unit = self._unit(cell[UNIT], line)
        if area is None or indicator is None or year is None or sex is None or unit is None:
            return
        code, iccs = indicator
        if unit == RATE:
            rate_of = PUBLISHED_RATE.get(code)
            if rate_of is None:
                return self._skip(f"{UNIT}: {cell[UNIT]} ({cell[INDICATOR]})")
            code = rate_of
        if bool(_HEALTH.search(cell[SOURCE])) != self.health:
            return self._skip(f"{SOURCE}: {cell[SOURCE]}")
        weapon = self._weapon(cell[DIMENSION], cell[CATEGORY])
        if weapon is None:
            return self._skip(f"{DIMENSION}: {cell[DIMENSION]} | {CATEGORY}: {cell[CATEGORY]}")
        age = self._age(cell[AGE])
        if age is None:
            return self._skip(f"{AGE}: {cell[AGE]}")
        series = SeriesKey(code, iccs, NONE, NONE, area, sex=sex, age_group=age, weapon=weapon)
        value = self._value(cell[VALUE], unit, line)
        if value is None:
            return
        first = self.first_line.setdefault((series, year), line)
        if first != line:
            self.problems.add("OBS-104", "row", line, first=first)
            return
        period = Period(year, 1, Frequency.ANNUAL)
        self.found.observations.append(ObservationIn(line, series, period, value, FINAL))

    def _skip(self, reason: str) -> None:
        self.found.not_imported[reason] += 1

    def _area(self, text: str, line: int) -> str | None:
        area = OAS.get(text.upper())
        if area is None or area not in self.areas.paths:
            self.problems.add("OBS-105", ISO3, line, scheme="ISO 3166-1 alpha-3", code=text)
            return None
        return area

    def _indicator(self, text: str, line: int) -> tuple[str, str] | None:
        indicator = INDICATORS.get(text)
        if indicator is None:
            self.problems.add("OBS-108", INDICATOR, line, code=text, scheme=FORMAT)
        return indicator

    def _year(self, text: str, line: int) -> int | None:
        if text.isdigit() and 1900 <= int(text) <= 2100:
            return int(text)
        self.problems.add("OBS-109", YEAR, line, column=YEAR, value=text)
        return None

    def _sex(self, text: str, line: int) -> str | None:
        sex = SEXES.get(text)
        if sex is None:
            self.problems.add("OBS-109", SEX, line, column=SEX, value=text)
        return sex

    def _unit(self, text: str, line: int) -> str | None:
        if text in (COUNTS, RATE):
            return text
        self.problems.add("OBS-109", UNIT, line, column=UNIT, value=text)
        return None

    def _weapon(self, dimension: str, category: str) -> str | None:
        if dimension == DIMENSION_TOTAL and category == "Total":
            return TOTAL
        if dimension == DIMENSION_MECHANISMS:
            return MECHANISMS.get(category)
        return None

    def _age(self, text: str) -> str | None:
        if text == "Total":
            return TOTAL
        return text if text in self.ages and text != TOTAL else None

    def _value(self, text: str, unit: str, line: int) -> float | None:
        if not text:
            self.found.blank_cells += 1
            return None
        if unit == RATE:
            if _RATE.match(text):
                return float(text)
            self.problems.add("OBS-109", VALUE, line, column=VALUE, value=text)
            return None
        whole = _WHOLE.match(text)
        return self.problems.count(whole.group(1) if whole else text, VALUE, line)
