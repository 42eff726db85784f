"""``conapo-population``: Mexico's population by state, sex and year from CONAPO.

Columns ``n_year, nombre_estado, cve_ent, genero, pob_start_year, pob_mid_year``
(UTF-8). ``cve_ent`` is the INEGI state code, 0 for the nation; ``genero`` is
Hombres, Mujeres or Total. The mid-year value is the one stored: rates are computed on
mid-year populations.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from atalaya.errors import DomainError
from atalaya.observatory.files import AreaIndex, Problems, check_width, table
from atalaya.observatory.imports import (
    PopulationIn,
    Progress,
    SourceInfo,
    StatisticsFile,
    counted,
)
from atalaya.observatory.models import TOTAL, SourceType

FORMAT = "conapo-population"
PUBLISHER = "CONAPO"
DATASET = "Población a mitad de año por entidad federativa y sexo"
COLUMNS = ("n_year", "cve_ent", "genero", "pob_mid_year")
SEXES = {"Hombres": "male", "Mujeres": "female", "Total": TOTAL}
NATION = "MX"


def read_conapo(
    path: Path, areas: AreaIndex, vintage: dt.date | None, progress: Progress | None = None
) -> StatisticsFile:
    """Return the populations in the CONAPO file at ``path``; problems are collected.

    Raises ``OBS-113`` without a vintage (the file does not name its edition),
    ``OBS-102`` or ``OBS-103`` for a file in another encoding or format.
    """
    if vintage is None:
        raise DomainError("OBS-113", field="vintage")
    rows = table(path.read_bytes(), "utf-8", COLUMNS, FORMAT)
    source = SourceInfo(PUBLISHER, DATASET, SourceType.DEMOGRAPHIC, vintage, FORMAT)
    found = StatisticsFile(source, areas.paths)
    first_line: dict[tuple[str, int, str], int] = {}
    for line, row in counted(found, rows.rows, progress):
        if not check_width(row, rows.width, line, found.problems):
            continue
        cell = {name: row[index].strip() for name, index in rows.columns.items()}
        population = _population(cell, line, areas, found.problems)
        if population is None:
            continue
        key = (population.area_code, population.year, population.sex)
        first = first_line.setdefault(key, line)
        if first != line:
            found.problems.add("OBS-104", "row", line, first=first)
            continue
        found.populations.append(population)
    return found


def _population(
    cell: dict[str, str], line: int, areas: AreaIndex, problems: Problems
) -> PopulationIn | None:
    year = cell["n_year"]
    year_ok = year.isdigit() and 1900 <= int(year) <= 2200
    if not year_ok:
        problems.add("OBS-109", "n_year", line, column="n_year", value=year)
    area = _area(cell["cve_ent"], areas)
    if area is None:
        problems.add("OBS-105", "cve_ent", line, scheme="INEGI", code=cell["cve_ent"])
    sex = SEXES.get(cell["genero"])
    if sex is None:
        problems.add("OBS-109", "genero", line, column="genero", value=cell["genero"])
    value = problems.count(cell["pob_mid_year"], "pob_mid_year", line)
    if area is None or sex is None or value is None or not year_ok:
        return None
    return PopulationIn(line, area, int(year), sex, TOTAL, value)


def _area(text: str, areas: AreaIndex) -> str | None:
    if not text.isdigit():
        return None
    if int(text) == 0:
        return NATION
    return areas.by_national_code("INEGI", f"{int(text):02d}")
