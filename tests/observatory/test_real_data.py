"""The real files (../shared/data): Mexico's 2021 intentional homicides (ICCS 0101) and their
rate, from ``atalaya stats query`` and from the API, against figures computed here straight
from the raw files, without Atalaya.

How the expected figures are computed (``independent_figures``):

- the count: the crosswalk file ``mx-sesnsp-2018.csv`` is read as plain CSV and the
  national categories whose ``iccs`` column is ``0101`` are taken (homicidio doloso and
  feminicidio, in their four modalities each); then every row of the SESNSP file of
  ``Año`` 2021 in one of those categories, for all 32 states, adds its twelve monthly
  columns;
- the rate: that count times 100,000 over CONAPO's mid-year population of 2021 for the
  nation (``cve_ent`` 00, ``genero`` Total).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from atalaya.app import create_app
from atalaya.cli import app as cli
from atalaya.settings import Settings
from observatory.samples import MONTHS, SHARED

SESNSP = SHARED / "mx-sesnsp" / "IDEFC_NM_may22.csv"
CONAPO = SHARED / "mx-conapo" / "conapo_pob_ent_gender_1950_2070.csv"
CROSSWALK = (
    Path(__file__).resolve().parents[2]
    / "src/atalaya/classification/data/crosswalks/mx-sesnsp-2018.csv"
)

pytestmark = pytest.mark.skipif(
    not (SESNSP.exists() and CONAPO.exists()), reason="../shared/data is not here"
)
runner = CliRunner()


def independent_figures() -> tuple[int, int, float]:
    """Return Mexico's 2021 ICCS 0101 count, its population and the rate per 100,000."""
    with CROSSWALK.open(encoding="utf-8") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        homicide = {row["national_code"] for row in rows if row["iccs"] == "0101"}
    assert {code.rsplit("|", 1)[0] for code in homicide} == {
        "Homicidio|Homicidio doloso", "Feminicidio|Feminicidio"
    }  # fmt: skip
    count = 0
    with SESNSP.open(encoding="latin-1", newline="") as f:
        for row in csv.DictReader(f):
            category = "|".join((row["Tipo de delito"], row["Subtipo de delito"], row["Modalidad"]))
            if row["Año"] == "2021" and category in homicide:
                count += sum(int(row[month].replace(",", "")) for month in MONTHS)
    with CONAPO.open(encoding="utf-8", newline="") as f:
        (population,) = [int(row["pob_mid_year"]) for row in csv.DictReader(f)
                         if (row["n_year"], row["cve_ent"], row["genero"]) == ("2021", "00", "Total")]  # fmt: skip
    return count, population, count * 100_000 / population


def test_mexico_2021_intentional_homicides_and_rate_match_the_raw_files(cli_env: Settings) -> None:
    count, population, rate = independent_figures()
    sesnsp = runner.invoke(cli, ["stats", "import", str(SESNSP), "--format", "sesnsp-idefc"])
    assert sesnsp.exit_code == 0, sesnsp.output
    assert "25088 rows read; observations: 279104 added" in sesnsp.output
    conapo = [
        "stats",
        "import",
        str(CONAPO),
        "--format",
        "conapo-population",
        "--vintage",
        "2023-01-01",
    ]
    assert runner.invoke(cli, conapo).exit_code == 0
    ask = [
        "stats",
        "query",
        "--iccs",
        "0101",
        "--area",
        "MX",
        "--period",
        "2021",
        "--format",
        "json",
    ]
    (value,) = json.loads(runner.invoke(cli, ask).stdout)
    assert (value["value"], value["population"]["value"]) == (count, population)
    assert value["rate_per_100k"] == pytest.approx(rate, abs=1e-4)
    print(
        f"Mexico 2021, ICCS 0101: {count} offences, {rate:.4f} per 100,000 (population {population})"
    )

    for source in ("1", "2"):
        assert runner.invoke(cli, ["stats", "publish", source]).exit_code == 0
    with TestClient(create_app(cli_env)) as client:
        response = client.get(
            "/api/v1/indicators", params={"iccs": "0101", "area": "MX", "period": "2021"}
        )
    (item,) = response.json()["items"]
    assert (item["value"], item["rate_per_100k"]) == (value["value"], value["rate_per_100k"])
