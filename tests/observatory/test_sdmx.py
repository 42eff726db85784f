"""SDMX: the data structure at ``GET /api/v1/indicators/structure``, SDMX-CSV 1.0 and
SDMX-JSON exports read back by ``sdmx1`` into the values the API gives, and the
``sdmx-csv`` importer: our own export read back, all or nothing."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sdmx
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from atalaya.cli import app as cli
from atalaya.clitools import unit_of_work
from atalaya.db import Database, make_engine
from atalaya.errors import DomainError
from atalaya.observatory.models import Observation, Population, Series, Source
from atalaya.observatory.query import EVERYTHING, IndicatorQuery
from atalaya.observatory.sdmx import write_csv
from atalaya.observatory.service import indicator_values
from atalaya.settings import Settings
from observatory.samples import VINTAGE, conapo_file, held, load_samples, run_import, sesnsp_file

EXPORT, STRUCTURE = "/api/v1/indicators/export", "/api/v1/indicators/structure"
NOT_AVAILABLE = ("0101", "MX-CHH", "2022")


@pytest.fixture
def samples(db: Database, tmp_path: Path) -> None:
    load_samples(db, tmp_path, publish=True)


def dataflow(client: TestClient) -> Any:
    response = client.get(STRUCTURE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.sdmx.structure+xml")
    return sdmx.read_sdmx(io.BytesIO(response.content)).dataflow["DF_CRIME"]


def api_values(client: TestClient, **params: str) -> dict[tuple[str, ...], tuple[Any, Any]]:
    """The API's values and rates by ICCS code, area and period."""
    items = client.get("/api/v1/indicators", params={**params, "limit": "500"}).json()["items"]
    return {(v["iccs"], v["area"], v["period"]): (v["value"], v["rate_per_100k"]) for v in items}


def read_back(observations: Any) -> dict[tuple[str, ...], tuple[Any, Any]]:
    """sdmx1's observations as the API's: value and rate by ICCS code, area and period."""
    found: dict[tuple[str, ...], list[Any]] = {}
    statuses: dict[tuple[str, ...], str] = {}
    for o in observations:
        key = {k: str(v.value) for k, v in o.dimension.values.items()}
        key |= {k: str(v.value) for k, v in getattr(o.series_key, "values", {}).items()}
        where = (key["ICCS"], key["REF_AREA"], key["TIME_PERIOD"])
        value = None if o.value in (None, "") or _nan(o.value) else float(o.value)
        cell = found.setdefault(where, [None, None])
        cell[1 if key["INDICATOR"].endswith("_per_100k") else 0] = value
        if not key["INDICATOR"].endswith("_per_100k"):
            statuses[where] = str(o.attrib["OBS_STATUS"].value)
    assert statuses[NOT_AVAILABLE] == "M"
    return {key: (v[0], v[1]) for key, v in found.items()}


def _nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def same(
    found: dict[tuple[str, ...], tuple[Any, Any]], api: dict[tuple[str, ...], tuple[Any, Any]]
) -> None:
    assert found.keys() == api.keys()
    for key, (value, rate) in api.items():
        assert found[key][0] == value, key
        assert found[key][1] == (pytest.approx(rate) if rate is not None else None), key


def test_the_structure_is_an_sdmx_ml_message_sdmx1_reads(client: TestClient) -> None:
    flow = dataflow(client)
    dsd = flow.structure
    assert [d.id for d in dsd.dimensions] == [
        "REF_AREA", "ICCS", "INDICATOR", "SEX", "AGE", "WEAPON", "SOURCE_TYPE", "SOURCE",
        "FREQ", "TIME_PERIOD",
    ]  # fmt: skip
    assert {"OBS_STATUS", "UNIT_MEASURE", "UNIT_MULT", "VINTAGE"} <= {a.id for a in dsd.attributes}
    iccs = dsd.dimensions.get("ICCS").local_representation.enumerated
    assert str(iccs["0101"].name["es"]) == "Homicidio intencional"
    areas = dsd.dimensions.get("REF_AREA").local_representation.enumerated
    assert "MX-CHH" in areas and "CO" in areas
    statuses = dsd.attributes.get("OBS_STATUS").local_representation.enumerated
    assert {c.id for c in statuses} == {"A", "P", "E", "M", "C"}


@pytest.mark.usefixtures("samples")
def test_an_sdmx_json_export_is_read_back_by_sdmx1_into_the_same_values(
    client: TestClient,
) -> None:
    params = {"iccs": "0101", "frequency": "A"}
    response = client.get(EXPORT, params={"format": "sdmx-json", **params})
    assert response.headers["content-type"].startswith("application/vnd.sdmx.data+json")
    message = sdmx.read_sdmx(io.BytesIO(response.content))
    (dataset,) = message.data
    api = api_values(client, **params)
    # Chihuahua 2021 and 2022 (not available: months missing), Jalisco 2021.
    assert len(api) == 3 and NOT_AVAILABLE in api
    same(read_back(dataset.obs), api)
    first = dataset.obs[0]
    assert str(first.attrib["VINTAGE"].value) == "2022-05-01"
    assert str(first.attrib["UNIT_MULT"].value) == "0"


@pytest.mark.usefixtures("samples")
def test_an_sdmx_csv_export_is_read_back_by_sdmx1_into_the_same_values(
    client: TestClient,
) -> None:
    params = {"iccs": "0101", "frequency": "A"}
    response = client.get(EXPORT, params={"format": "sdmx-csv", **params})
    assert response.headers["content-type"].startswith("application/vnd.sdmx.data+csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"))))
    assert rows[0][:2] == ["DATAFLOW", "REF_AREA"] and rows[1][0] == "ATALAYA:DF_CRIME(1.0)"
    # sdmx1 reads SDMX-CSV 2.0 only, which names the structure in two columns (and an
    # action) where 1.0 has DATAFLOW: the rest of the file is read as it is.
    header = ["STRUCTURE", "STRUCTURE_ID", "ACTION", *rows[0][1:]]
    body = [["dataflow", row[0], "I", *row[1:]] for row in rows[1:]]
    out = io.StringIO()
    csv.writer(out).writerows([header, *body])
    from sdmx.reader.csv import Reader

    message = Reader().convert(
        io.BytesIO(out.getvalue().encode("utf-8")), structure=dataflow(client)
    )
    (dataset,) = message.data
    same(read_back(dataset.obs), api_values(client, **params))
    units = {
        (str(o.dimension["INDICATOR"].value), str(o.attrib["UNIT_MEASURE"].value))
        for o in dataset.obs
    }
    assert units == {("offences", "NUMBER"), ("offences_per_100k", "PER_100K")}


@pytest.mark.usefixtures("samples")
def test_sdmx_exports_cannot_break_down_by_national_category(client: TestClient) -> None:
    for format in ("sdmx-csv", "sdmx-json"):
        response = client.get(EXPORT, params={"format": format, "by": "national_category"})
        assert response.status_code == 422 and response.json()["code"] == "OBS-130"


# The importer.


def export(session: Session, **filters: Any) -> bytes:
    return write_csv(indicator_values(session, IndicatorQuery(**filters), EVERYTHING))


def clear(db: Database) -> None:
    """Empty the observatory, as a database that never held these sources."""
    with unit_of_work(SimpleNamespace(db=db)) as session:  # type: ignore[arg-type]
        for model in (Observation, Series, Population, Source):
            session.execute(delete(model))


def as_found(session: Session, **filters: Any) -> list[tuple[Any, ...]]:
    values = indicator_values(session, IndicatorQuery(**filters), EVERYTHING)
    return [
        (v.key.indicator, v.key.iccs, v.key.area, v.key.period.label, v.key.weapon, v.value,
         v.status.value, v.rate_per_100k, v.key.source.publisher, v.key.source.vintage)
        for v in values
    ]  # fmt: skip


@pytest.mark.usefixtures("samples")
@pytest.mark.parametrize("filters", [{}, {"frequency": "A"}], ids=["as stored", "years"])
def test_an_export_imported_into_an_empty_database_gives_the_same_values(
    db: Database, session: Session, tmp_path: Path, filters: dict[str, Any]
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(export(session, **filters))
    before = as_found(session, **filters)
    clear(db)
    report = run_import(db, path, "sdmx-csv")
    unclassified = [v for v in before if v[1] is None]
    assert unclassified and report.not_imported == {
        "computed rates (computed again from the counts and populations held)": sum(
            1 for v in before if v[7] is not None
        ),
        "values with no ICCS code and no national category": len(unclassified),
    }
    # Values with neither an ICCS code nor a national category cannot come back; the
    # rest do, with their statuses, and their rates once the populations are imported.
    run_import(db, conapo_file(tmp_path), "conapo-population", VINTAGE)
    assert as_found(session, **filters) == [v for v in before if v[1] is not None]
    assert any(v[6] == "not_available" for v in before) == bool(filters)


@pytest.mark.usefixtures("samples")
def test_importing_an_export_again_changes_nothing(
    db: Database, session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(export(session, iccs="01"))
    clear(db)
    first = run_import(db, path, "sdmx-csv")
    again = run_import(db, path, "sdmx-csv")
    assert first.observations_added == again.observations_unchanged > 0
    assert (again.observations_added, again.series_added, again.new_source) == (0, 0, False)


def lines(session: Session) -> list[list[str]]:
    return list(csv.reader(io.StringIO(export(session, iccs="0101", frequency="A").decode())))


def changed(rows: list[list[str]], column: str, value: str, row: int = 2) -> list[list[str]]:
    """The export with ``column`` of its ``row``-th line (a count) set to ``value``."""
    copy = [list(r) for r in rows]
    copy[row - 1][rows[0].index(column)] = value
    return copy


def write(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return path


BAD_ROWS = {
    "another dataflow": (("DATAFLOW", "OTHER:DF_X(1.0)"), "OBS-131"),
    "unknown area": (("REF_AREA", "MX-XXX"), "OBS-105"),
    "unknown ICCS code": (("ICCS", "0199"), "OBS-109"),
    "unknown sex": (("SEX", "M"), "OBS-109"),
    "negative count": (("OBS_VALUE", "-3"), "OBS-106"),
    "fractional count": (("OBS_VALUE", "2.5"), "OBS-107"),
    "value of a missing observation": (("OBS_STATUS", "M"), "OBS-133"),
    "period of another frequency": (("TIME_PERIOD", "2021-03"), "OBS-109"),
    "unit of a rate on a count": (("UNIT_MEASURE", "PER_100K"), "OBS-109"),
}


@pytest.mark.usefixtures("samples")
@pytest.mark.parametrize("case", BAD_ROWS, ids=list(BAD_ROWS))
def test_a_bad_line_gets_its_code_and_nothing_is_imported(
    case: str, db: Database, session: Session, tmp_path: Path
) -> None:
    (column, value), code = BAD_ROWS[case]
    rows = lines(session)
    clear(db)
    # Line 2 is bad; the good lines after it must not be stored either.
    path = write(tmp_path / "bad.csv", changed(rows, column, value))
    with pytest.raises(DomainError) as raised:
        run_import(db, path, "sdmx-csv")
    assert raised.value.code == "OBS-110"
    assert [(e.code, e.params["line"]) for e in raised.value.errors] == [(code, 2)]
    assert held(session) == (0, 0, 0, 0)


@pytest.mark.usefixtures("samples")
def test_a_repeated_key_is_refused(db: Database, session: Session, tmp_path: Path) -> None:
    rows = lines(session)
    clear(db)
    with pytest.raises(DomainError) as raised:
        run_import(db, write(tmp_path / "bad.csv", [*rows, rows[1]]), "sdmx-csv")
    assert [(e.code, e.params) for e in raised.value.errors] == [
        ("OBS-104", {"line": len(rows) + 1, "first": 2})
    ]
    assert held(session) == (0, 0, 0, 0)


@pytest.mark.usefixtures("samples")
def test_a_file_in_another_encoding_or_format_or_of_several_sources_is_refused(
    db: Database, session: Session, tmp_path: Path
) -> None:
    rows = lines(session)
    clear(db)
    cases = {
        "OBS-102": write(tmp_path / "latin1.csv", rows, "latin-1"),  # 'común' in SOURCE
        "OBS-103": write(tmp_path / "other.csv", [r[1:] for r in rows]),  # no DATAFLOW
        "OBS-132": write(tmp_path / "two.csv", changed(rows, "SOURCE", "INEGI: Other")),
        "OBS-134": write(tmp_path / "good.csv", rows),
    }
    for code, path in cases.items():
        vintage = VINTAGE if code == "OBS-134" else None
        with pytest.raises(DomainError) as raised:
            run_import(db, path, "sdmx-csv", vintage)
        assert raised.value.code == code
    assert held(session) == (0, 0, 0, 0)


runner = CliRunner()


def test_the_command_imports_an_export_and_reports_what_it_left_out(
    cli_env: Settings, tmp_path: Path
) -> None:
    sesnsp = sesnsp_file(tmp_path)
    result = runner.invoke(cli, ["stats", "import", str(sesnsp), "--format", "sesnsp-idefc"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "export.csv"
    filters = ["--iccs", "01", "--frequency", "A"]
    result = runner.invoke(
        cli, ["stats", "export", "--format", "sdmx-csv", "--output", str(out), *filters]
    )
    assert result.exit_code == 0, result.output
    query = ["stats", "query", "--format", "json", *filters]
    before = runner.invoke(cli, query).stdout
    engine = make_engine(cli_env)
    with Session(engine) as session, session.begin():
        for model in (Observation, Series, Population, Source):
            session.execute(delete(model))
    engine.dispose()
    result = runner.invoke(cli, ["stats", "import", str(out), "--format", "sdmx-csv"])
    assert result.exit_code == 0, result.output
    assert "observations: 3 added" in result.output  # Chihuahua 2021, 2022; Jalisco 2021
    after = runner.invoke(cli, query).stdout
    # Everything but the notes on the crosswalk, whose national categories stay behind.
    assert [v | {"notes": []} for v in json.loads(after)] == [
        v | {"notes": []} for v in json.loads(before)
    ]
