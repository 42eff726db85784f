"""``atalaya stats``: import with a report, query as JSON, list and publish sources."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.orm import Session
from typer.testing import CliRunner

from atalaya.cli import app as cli
from atalaya.db import make_engine
from atalaya.settings import Settings
from observatory.samples import DOLOSO_FIREARM, GOOD_ROW, conapo_file, held, sesnsp_file, sesnsp_row

runner = CliRunner()


def stored(settings: Settings) -> tuple[int, int, int, int]:
    engine = make_engine(settings)
    with Session(engine) as session:
        found = held(session)
    engine.dispose()
    return found


def test_import_reports_what_it_stored_and_what_has_no_iccs_code(
    cli_env: Settings, tmp_path: Path
) -> None:
    result = runner.invoke(
        cli, ["stats", "import", str(sesnsp_file(tmp_path)), "--format", "sesnsp-idefc"]
    )
    assert result.exit_code == 0, result.output
    assert "observations: 77 added, 0 unchanged" in result.output
    assert "7 blank cells (not published)" in result.output
    assert (
        "no ICCS code, kept with its national category only: Otros delitos del Fuero"
        in result.output
    )
    again = runner.invoke(
        cli, ["stats", "import", str(sesnsp_file(tmp_path)), "--format", "sesnsp-idefc"]
    )
    assert "observations: 0 added, 77 unchanged" in again.output
    assert stored(cli_env) == (1, 6, 77, 0)


def test_a_bad_file_exits_with_every_problem_and_stores_nothing(
    cli_env: Settings, tmp_path: Path
) -> None:
    rows = [GOOD_ROW, sesnsp_row(2021, 40, DOLOSO_FIREARM, ["-1"] * 12)]
    result = runner.invoke(
        cli, ["stats", "import", str(sesnsp_file(tmp_path, rows)), "--format", "sesnsp-idefc"]
    )
    assert result.exit_code == 1
    assert "OBS-105 [Clave_Ent] Line 3: there is no area with INEGI code 40." in result.output
    assert result.output.count("OBS-106") == 12
    assert "OBS-110: Nothing was imported: problems found in the file: 13." in result.output
    assert stored(cli_env) == (0, 0, 0, 0)


def test_query_prints_json_and_publish_opens_the_series(cli_env: Settings, tmp_path: Path) -> None:
    for args in (["--format", "sesnsp-idefc", str(sesnsp_file(tmp_path))],
                 ["--format", "conapo-population", "--vintage", "2023-01-01", str(conapo_file(tmp_path))]):  # fmt: skip
        assert runner.invoke(cli, ["stats", "import", *args]).exit_code == 0
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
    assert (value["value"], value["rate_per_100k"], value["population"]["value"]) == (
        2256,
        225.6,
        1_000_000,
    )
    assert json.loads(runner.invoke(cli, [*ask, "--public"]).stdout) == []
    sources = runner.invoke(cli, ["stats", "sources"])
    assert "SESNSP" in sources.output and "CONAPO" in sources.output
    published = runner.invoke(cli, ["stats", "publish", "1"])
    assert published.exit_code == 0 and "6 series published" in published.output
    assert len(json.loads(runner.invoke(cli, [*ask, "--public"]).stdout)) == 1
    missing = runner.invoke(cli, ["stats", "publish", "99"])
    assert missing.exit_code == 1 and "OBS-117" in missing.output


def test_query_refuses_bad_filters_with_their_codes(cli_env: Settings) -> None:
    result = runner.invoke(cli, ["stats", "query", "--iccs", "0108"])
    assert result.exit_code == 1 and "OBS-115" in result.output


def test_import_refuses_a_vintage_in_digits_other_than_ascii(
    cli_env: Settings, tmp_path: Path
) -> None:
    path = str(conapo_file(tmp_path))
    args = ["stats", "import", "--format", "conapo-population", "--vintage", "٢٠٢٣-01-01", path]
    result = runner.invoke(cli, args)
    assert result.exit_code != 0 and "API-104" in result.output, result.output
    assert stored(cli_env) == (0, 0, 0, 0)
