"""In a real browser (Debian's Chromium through Playwright): the public dashboard in
Spanish, without signing in, shows the chart and the table of Mexico's 2021 intentional
homicides, and its download link returns the same numbers.

The data are a small SESNSP and CONAPO sample (``observatory.samples``), imported and
published with ``atalaya stats`` as an operator would. The assertions rest on what does
not depend on the translations being there: ``lang``, ids, roles and the numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from atalaya.cli import app as cli
from atalaya.settings import Settings
from observatory.samples import conapo_file, sesnsp_file

pytestmark = [pytest.mark.browser, pytest.mark.slow]


runner = CliRunner()


@pytest.fixture
def published(cli_env: Settings, tmp_path: Path) -> None:
    """Import the SESNSP and CONAPO samples into the live server's database and publish
    the SESNSP series (populations need no publishing)."""
    for args in (
        [str(sesnsp_file(tmp_path)), "--format", "sesnsp-idefc"],
        [str(conapo_file(tmp_path)), "--format", "conapo-population", "--vintage", "2023-01-01"],
    ):
        result = runner.invoke(cli, ["stats", "import", *args])
        assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["stats", "publish", "1"])
    assert result.exit_code == 0, result.output


@pytest.fixture
def page(open_page: Callable[..., Any]) -> Any:
    return open_page(locale="es-MX")


def table_numbers(page, table: str) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    """Return each row's key and the numbers of its cells (``<data value>``)."""
    rows = page.locator(f"#{table} tbody tr")
    found = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        key = row.get_attribute("data-area") or row.get_attribute("data-period")
        cells = row.locator("data")
        found[key] = [float(cells.nth(j).get_attribute("value")) for j in range(cells.count())]
    return found


def csv_rows(page, href: str) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    response = page.request.get(href)
    assert response.status == 200, response.text()
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text())))


@pytest.mark.usefixtures("published")
def test_the_dashboard_in_spanish_shows_mexicos_2021_homicides_and_downloads_them(
    page, live_server: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/observatory")
    assert page.locator("html").get_attribute("lang") == "es"
    page.locator("#f-indicator").select_option("offences")
    page.locator("#f-iccs").select_option("0101")
    page.locator("#f-area").select_option("MX")
    page.locator("#dashboard-form button[type=submit]").click()
    page.wait_for_url("**/observatory?*area=MX*")
    # The years come from the figures: choose 2021 and show again.
    page.locator("#f-period").select_option("2021")
    page.locator("#dashboard-form button[type=submit]").click()
    page.wait_for_url("**period=2021*")

    chart = page.locator("#areas-1 svg[role=img]").first
    assert chart.is_visible() and chart.get_attribute("aria-labelledby")
    assert page.locator("#areas-1 svg rect").count() >= 2  # Chihuahua's and Jalisco's bars
    states = table_numbers(page, "areas-1-table")
    assert states["MX-CHH"] == [156, 78.0, 200_000]
    assert states["MX-JAL"] == [2100, 525.0, 400_000]
    assert page.locator("#areas-1 .tile-map").is_visible()

    # Each state's download link returns that state's numbers.
    for code in ("MX-CHH", "MX-JAL"):
        href = page.locator(f'#areas-1-table tr[data-area="{code}"] a.download').get_attribute(
            "href"
        )
        (row,) = csv_rows(page, f"{live_server}{href}")
        assert (row["indicator"], row["iccs"], row["area"], row["period"]) == (
            "offences", "0101", code, "2021"
        )  # fmt: skip
        assert [float(row["value"]), float(row["rate_per_100k"])] == states[code][:2]

    # The year-by-year chart's download link returns the numbers of its table.
    assert page.locator("#years-1 svg[role=img]").is_visible()
    years = table_numbers(page, "years-1-table")
    assert years["2021"] == [2256, 225.6, 1_000_000] and years["2022"] == []
    href = page.locator("#years-1 .downloads a[download]").get_attribute("href")
    rows = {row["period"]: row for row in csv_rows(page, f"{live_server}{href}")}
    assert set(rows) == set(years)
    assert [float(rows["2021"]["value"]), float(rows["2021"]["rate_per_100k"])] == years["2021"][:2]
    assert rows["2022"]["value"] == ""  # not available: empty, never zero
    page.screenshot(path=str(tmp_path / "dashboard-es.png"), full_page=True)


@pytest.fixture
def published_real_files(cli_env: Settings) -> tuple[int, int, float]:
    """Import the real SESNSP (May 2022 edition) and CONAPO files and publish SESNSP's
    series; return Mexico's 2021 ICCS 0101 count, population and rate, computed from
    the raw files without Atalaya (``test_real_data.independent_figures``)."""
    from observatory.test_real_data import CONAPO, SESNSP, independent_figures

    if not (SESNSP.exists() and CONAPO.exists()):
        pytest.skip("../shared/data is not here")
    for args in (
        [str(SESNSP), "--format", "sesnsp-idefc"],
        [str(CONAPO), "--format", "conapo-population", "--vintage", "2023-01-01"],
    ):
        result = runner.invoke(cli, ["stats", "import", *args])
        assert result.exit_code == 0, result.output
    assert runner.invoke(cli, ["stats", "publish", "1"]).exit_code == 0
    return independent_figures()


def test_the_dashboard_shows_the_real_figures_of_mexicos_2021_homicides(
    page, live_server: str, published_real_files: tuple[int, int, float]
) -> None:  # type: ignore[no-untyped-def]
    count, population, rate = published_real_files
    page.goto(f"{live_server}/observatory?indicator=offences&iccs=0101&area=MX&period=2021")
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.locator("#years-1 svg[role=img]").is_visible()
    years = table_numbers(page, "years-1-table")
    value, shown_rate, shown_population = years["2021"]
    assert (value, shown_population) == (count, population)
    assert shown_rate == pytest.approx(rate, abs=0.01)
    # Thirty-two states in the chart's table and on the map.
    assert len(table_numbers(page, "areas-1-table")) == 32
    href = page.locator("#years-1 .downloads a[download]").get_attribute("href")
    rows = {row["period"]: row for row in csv_rows(page, f"{live_server}{href}")}
    assert float(rows["2021"]["value"]) == count
    assert float(rows["2021"]["rate_per_100k"]) == pytest.approx(rate, abs=1e-4)
