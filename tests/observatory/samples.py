"""Small files in the publishers' formats, written by the tests (never copies of theirs),
and a way to import them as ``atalaya stats import`` does: committed whole or not at all."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atalaya.clitools import unit_of_work
from atalaya.db import Database
from atalaya.observatory.imports import ImportReport
from atalaya.observatory.models import Observation, Population, Series, Source
from atalaya.observatory.service import import_file
from conftest import TEST_CONTEXT

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
MONTHS = ["Enero", "Febrero", "Marzo", "Abril", "Mayo", "Junio", "Julio", "Agosto",
          "Septiembre", "Octubre", "Noviembre", "Diciembre"]  # fmt: skip
SESNSP_HEADER = ["Año", "Clave_Ent", "Entidad", "Bien jurídico afectado", "Tipo de delito",
                 "Subtipo de delito", "Modalidad", *MONTHS]  # fmt: skip
DOLOSO_FIREARM = ("Homicidio", "Homicidio doloso", "Con arma de fuego")
DOLOSO_KNIFE = ("Homicidio", "Homicidio doloso", "Con arma blanca")
FEMINICIDE_FIREARM = ("Feminicidio", "Feminicidio", "Con arma de fuego")
TRAFFIC = ("Homicidio", "Homicidio culposo", "En accidente de tránsito")
OTHER = ("Otros delitos del Fuero Común",) * 3
STATES = {8: "Chihuahua", 14: "Jalisco"}


def sesnsp_row(
    year: int, state: int, category: tuple[str, str, str], months: list[str]
) -> list[str]:
    return [str(year), str(state), STATES.get(state, "?"), "Bien jurídico", *category, *months]


def every_month(count: int | str) -> list[str]:
    return [str(count)] * 12


# What the sample holds, as the tests expect to find it:
# Chihuahua 2021, ICCS 0101: 120 + 24 + 12 = 156; Jalisco 2021, 0101: 1,000 + 11 x 100 = 2,100;
# Chihuahua 2021, 010321 (traffic): 60; Chihuahua 2022: January to May only (10 a month).
SESNSP_ROWS = [
    sesnsp_row(2021, 8, DOLOSO_FIREARM, every_month(10)),
    sesnsp_row(2021, 8, DOLOSO_KNIFE, every_month(2)),
    sesnsp_row(2021, 8, FEMINICIDE_FIREARM, every_month(1)),
    sesnsp_row(2021, 8, TRAFFIC, every_month(5)),
    sesnsp_row(2021, 8, OTHER, every_month(7)),
    sesnsp_row(2021, 14, DOLOSO_FIREARM, ["1,000", *["100"] * 11]),
    sesnsp_row(2022, 8, DOLOSO_FIREARM, ["10"] * 5 + [""] * 7),
]


GOOD_ROW = sesnsp_row(2021, 8, DOLOSO_FIREARM, every_month(10))


def write_csv(path: Path, rows: list[list[str]], encoding: str) -> Path:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def sesnsp_file(
    tmp_path: Path, rows: list[list[str]] | None = None, name: str = "IDEFC_NM_may22.csv"
) -> Path:
    return write_csv(tmp_path / name, [SESNSP_HEADER, *(SESNSP_ROWS if rows is None else rows)],
                     "latin-1")  # fmt: skip


CONAPO_HEADER = ["n_year", "nombre_estado", "cve_ent", "genero", "pob_start_year", "pob_mid_year"]


def conapo_rows(scale: int = 1) -> list[list[str]]:
    """Mexico 1,000,000 (490,000 men, 510,000 women), Chihuahua 200,000, Jalisco 400,000
    (times ``scale``), in 2021 and 2022."""
    rows = []
    for year in (2021, 2022):
        for code, name, total in (("00", "Nacional", 1_000_000), ("08", "Chihuahua", 200_000),
                                  ("14", "Jalisco", 400_000)):  # fmt: skip
            men = total * 49 // 100
            for sex, value in (("Hombres", men), ("Mujeres", total - men), ("Total", total)):
                rows.append([str(year), name, code, sex, "0", str(value * scale)])
    return rows


def conapo_file(tmp_path: Path, rows: list[list[str]] | None = None, name: str = "pob.csv") -> Path:
    return write_csv(tmp_path / name, [CONAPO_HEADER, *(conapo_rows() if rows is None else rows)],
                     "utf-8")  # fmt: skip


VINTAGE = dt.date(2023, 1, 1)


def run_import(
    db: Database, path: Path, format: str, vintage: dt.date | None = None
) -> ImportReport:
    """Import as the command does: one transaction, committed only if all went well."""
    with unit_of_work(SimpleNamespace(db=db)) as session:  # type: ignore[arg-type]
        return import_file(session, path, format, vintage, TEST_CONTEXT)


def held(session: Session) -> tuple[int, int, int, int]:
    """How many sources, series, observations and populations are stored."""
    return tuple(  # type: ignore[return-value]
        session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Source, Series, Observation, Population)
    )


def load_samples(db: Database, tmp_path: Path, publish: bool = False) -> None:
    from atalaya.observatory.service import publish as publish_source

    run_import(db, sesnsp_file(tmp_path), "sesnsp-idefc")
    run_import(db, conapo_file(tmp_path), "conapo-population", VINTAGE)
    if publish:
        with unit_of_work(SimpleNamespace(db=db)) as session:  # type: ignore[arg-type]
            for source in session.scalars(select(Source.id)):
                publish_source(session, TEST_CONTEXT, source)
