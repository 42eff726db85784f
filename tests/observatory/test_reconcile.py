"""Reconciliation: police and health homicide victims side by side, their ratio and the
band, never added together; published series only for those who may not see the rest."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from atalaya.cli import app as cli
from atalaya.clitools import unit_of_work
from atalaya.db import Database
from atalaya.errors import DomainError
from atalaya.observatory.models import Source
from atalaya.observatory.query import EVERYTHING, PUBLIC, IndicatorQuery, Visibility
from atalaya.observatory.reconcile import Reconciliation, reconcile
from atalaya.observatory.service import indicator_values, publish
from atalaya.settings import Settings
from conftest import TEST_CONTEXT
from observatory.samples import run_import, write_csv

HEADER = ["Iso3_code", "Country", "Region", "Subregion", "Indicator", "Dimension", "Category",
          "Sex", "Age", "Year", "Unit of measurement", "VALUE", "Source"]  # fmt: skip
POLICE_VINTAGE, HEALTH_VINTAGE = dt.date(2025, 6, 1), dt.date(2025, 7, 1)
# Police and health victims of intentional homicide per country and year: Mexico 2021
# inside the band (1.0), 2022 above it (1.5); Colombia 2021 below it (0.7), 2022 without a
# health value; Argentina 2021 with a health value of zero.
POLICE = {("MEX", 2021): 1000, ("MEX", 2022): 1500, ("COL", 2021): 700, ("COL", 2022): 900,
          ("ARG", 2021): 5}  # fmt: skip
HEALTH = {("MEX", 2021): 1000, ("MEX", 2022): 1000, ("COL", 2021): 1000, ("ARG", 2021): 0}


def unodc_file(path: Path, values: dict[tuple[str, int], int], source: str) -> Path:
    rows = [[iso3, "?", "Americas", "?", "Victims of intentional homicide", "Total", "Total",
             "Total", "Total", str(year), "Counts", str(value), source]
            for (iso3, year), value in values.items()]  # fmt: skip
    return write_csv(path, [HEADER, *rows], "utf-8")


def load(db: Database, tmp_path: Path) -> None:
    run_import(db, unodc_file(tmp_path / "police.csv", POLICE, "CTS"), "unodc-cts",
               POLICE_VINTAGE)  # fmt: skip
    run_import(db, unodc_file(tmp_path / "health.csv", HEALTH, "WHO"), "unodc-cts",
               HEALTH_VINTAGE)  # fmt: skip


def publish_all(db: Database, source_type: str | None = None) -> None:
    with unit_of_work(SimpleNamespace(db=db)) as session:  # type: ignore[arg-type]
        for source in session.scalars(select(Source)).all():
            if source_type in (None, source.source_type):
                publish(session, TEST_CONTEXT, source.id)


@pytest.fixture
def samples(db: Database, tmp_path: Path) -> None:
    load(db, tmp_path)


def by_key(found: list[Reconciliation]) -> dict[tuple[str, int], Reconciliation]:
    return {(r.area, r.year): r for r in found}


@pytest.mark.usefixtures("samples")
def test_ratio_and_band_per_area_and_year(session: Session) -> None:
    found = by_key(reconcile(session, EVERYTHING))
    assert set(found) == {("MX", 2021), ("MX", 2022), ("CO", 2021), ("CO", 2022), ("AR", 2021)}
    inside, above, below = found[("MX", 2021)], found[("MX", 2022)], found[("CO", 2021)]
    assert (inside.ratio, inside.outside_band, inside.reason) == (1.0, False, None)
    assert (above.ratio, above.outside_band, above.reason) == (1.5, True, None)
    assert (below.ratio, below.outside_band, below.reason) == (0.7, True, None)
    assert inside.police and inside.police.source.source_type == "police"
    assert inside.health and inside.health.source.source_type == "health"
    assert inside.health.source.vintage == HEALTH_VINTAGE


@pytest.mark.usefixtures("samples")
def test_no_ratio_without_a_health_value_or_with_zero(session: Session) -> None:
    found = by_key(reconcile(session, EVERYTHING))
    missing, zero = found[("CO", 2022)], found[("AR", 2021)]
    assert missing.police and missing.police.value == 900
    assert (missing.health, missing.ratio, missing.outside_band) == (None, None, None)
    assert missing.reason == "no_health_value"
    assert zero.health and zero.health.value == 0
    assert (zero.ratio, zero.outside_band, zero.reason) == (None, None, "health_zero")


@pytest.mark.usefixtures("samples")
def test_a_year_asked_for_with_no_value_has_a_reason(session: Session) -> None:
    (row,) = reconcile(session, EVERYTHING, "MX", [2019])
    assert (row.area, row.year, row.police, row.health) == ("MX", 2019, None, None)
    assert (row.ratio, row.outside_band, row.reason) == (None, None, "no_police_value")
    assert [r.year for r in reconcile(session, EVERYTHING, "MX", [2021, 2022])] == [2021, 2022]


@pytest.mark.usefixtures("samples")
def test_a_custom_band(session: Session) -> None:
    found = by_key(reconcile(session, EVERYTHING, band=(0.6, 1.5)))
    assert found[("MX", 2022)].outside_band is False  # bounds are inside
    assert found[("CO", 2021)].outside_band is False
    narrow = by_key(reconcile(session, EVERYTHING, band=(0.95, 0.99)))
    assert narrow[("MX", 2021)].outside_band is True
    assert (narrow[("MX", 2021)].low, narrow[("MX", 2021)].high) == (0.95, 0.99)


@pytest.mark.usefixtures("samples")
def test_police_and_health_are_never_added_together(session: Session) -> None:
    (row,) = reconcile(session, EVERYTHING, "MX", [2021])
    assert row.police and row.health
    assert (row.police.value, row.health.value) == (1000, 1000)
    # Each side is its own query with its source type: no value anywhere is 2,000.
    for source_type in ("police", "health"):
        q = IndicatorQuery("victims", "0101", area="MX", period="2021", source_type=source_type)
        (value,) = indicator_values(session, q, EVERYTHING)
        assert (value.key.source.source_type, value.value) == (source_type, 1000)
    assert 2000 not in [r.police.value for r in reconcile(session, EVERYTHING) if r.police]
    # Asked without a source type, both come back, as two rows: the health edition,
    # though later and under the same dataset name, does not hide the police one.
    q = IndicatorQuery("victims", "0101", area="MX", period="2021")
    both = indicator_values(session, q, EVERYTHING)
    assert sorted((v.key.source.source_type, v.value) for v in both) == [
        ("health", 1000),
        ("police", 1000),
    ]


@pytest.mark.usefixtures("samples")
def test_by_area_lists_the_areas_below(session: Session) -> None:
    found = reconcile(session, EVERYTHING, None, [2021], by_area=True)
    assert [(r.area, r.ratio) for r in found] == [("AR", None), ("CO", 0.7), ("MX", 1.0)]


@pytest.mark.usefixtures("samples")
def test_unpublished_series_are_seen_by_nobody_else(session: Session, db: Database) -> None:
    assert reconcile(session, PUBLIC) == []
    assert reconcile(session, Visibility("/CO/"))[0].area == "CO"
    assert {r.area for r in reconcile(session, Visibility("/CO/"))} == {"CO"}
    publish_all(db, "police")
    (row,) = reconcile(session, PUBLIC, "MX", [2021])
    assert (row.health, row.reason) == (None, "no_health_value")


@pytest.mark.parametrize("band", [(1.25, 0.8), (1.0, 1.0), (0.0, 1.25), (-1.0, 2.0)])
def test_a_bad_band_is_refused(session: Session, band: tuple[float, float]) -> None:
    with pytest.raises(DomainError) as raised:
        reconcile(session, EVERYTHING, "MX", band=band)
    assert raised.value.code == "API-104"


@pytest.mark.usefixtures("samples")
def test_the_api_is_open_for_published_series_only(
    client: TestClient,
    db: Database,
    auth: Callable[[str], dict[str, str]],
) -> None:
    url = "/api/v1/indicators/reconciliation"
    params = {"area": "MX", "year": "2022"}
    # The area and year asked for are answered, with nothing in them.
    (hidden,) = client.get(url, params=params).json()["items"]
    assert (hidden["police"], hidden["health"], hidden["reason"]) == (None, None, "no_police_value")
    assert client.get(url, params={"year": "2021"}).json() == {"items": [], "total": 0}
    assert client.get(url, params={"year": "2021"}, headers=auth("bob")).json()["total"] == 0
    seen = client.get(url, params={"year": "2021"}, headers=auth("valentina")).json()
    assert [i["area"] for i in seen["items"]] == ["CO"]
    publish_all(db)
    (item,) = client.get(url, params=params).json()["items"]
    assert item["police"]["value"] == 1500 and item["health"]["value"] == 1000
    assert item["police"]["source"]["source_type"] == "police"
    assert (item["ratio"], item["outside_band"], item["reason"]) == (1.5, True, None)
    assert item["band"] == {"low": 0.8, "high": 1.25}
    (wide,) = client.get(url, params={**params, "low": "0.5", "high": "2"}).json()["items"]
    assert wide["outside_band"] is False
    bad = client.get(url, params={**params, "low": "1.3", "high": "1.2"})
    assert bad.status_code == 422 and bad.json()["code"] == "API-104"


def test_the_command(cli_env: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    for name, values, source, vintage in (("p.csv", POLICE, "CTS", POLICE_VINTAGE),
                                          ("h.csv", HEALTH, "WHO", HEALTH_VINTAGE)):  # fmt: skip
        path = unodc_file(tmp_path / name, values, source)
        args = ["stats", "import", str(path), "--format", "unodc-cts", "--vintage", str(vintage)]
        assert runner.invoke(cli, args).exit_code == 0
    args = ["stats", "reconcile", "--area", "CO", "--year", "2021", "--format", "json"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert (row["ratio"], row["outside_band"]) == (0.7, True)
    result = runner.invoke(cli, [*args[:-2], "--low", "0.5", "--high", "0.9"])
    assert result.exit_code == 0, result.output
    assert "0.7" in result.output and "False" in result.output
    public = runner.invoke(cli, [*args, "--public"])
    (hidden,) = json.loads(public.output)
    assert (hidden["police"], hidden["health"], hidden["ratio"]) == (None, None, None)
    bad = runner.invoke(cli, [*args, "--low", "2", "--high", "1"])
    assert bad.exit_code == 1 and "API-104 [high]" in bad.output
