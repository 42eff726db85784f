"""The file formats ``atalaya stats import`` reads, each a function returning a
``StatisticsFile`` (see ``atalaya.observatory.imports``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from atalaya.errors import DomainError
from atalaya.observatory.colombia import read_dane_population, read_police_homicides
from atalaya.observatory.conapo import read_conapo
from atalaya.observatory.files import AreaIndex
from atalaya.observatory.imports import Progress, StatisticsFile
from atalaya.observatory.sdmx_csv import read_sdmx_csv
from atalaya.observatory.sesnsp import read_sesnsp
from atalaya.observatory.snic import read_snic
from atalaya.observatory.unodc import read_unodc

Reader = Callable[[Path, AreaIndex, dt.date | None, Progress | None], StatisticsFile]

FORMATS: dict[str, Reader] = {
    "sesnsp-idefc": read_sesnsp,
    "conapo-population": read_conapo,
    "snic-provincias": read_snic,
    "co-policia-homicidios": read_police_homicides,
    "dane-population": read_dane_population,
    "unodc-cts": read_unodc,
    "sdmx-csv": read_sdmx_csv,
}


def reader_for(format: str) -> Reader:
    """Return the reader of ``format``; raise ``OBS-101`` for a format not read here."""
    try:
        return FORMATS[format]
    except KeyError:
        raise DomainError(
            "OBS-101", field="format", params={"choices": ", ".join(FORMATS)}
        ) from None
