"""``atalaya records import``: batches stored whole, idempotent, rejects reported by rule."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from atalaya.accounts.authz import Principal
from atalaya.accounts.models import AgencyLevel, Role
from atalaya.cli import app as cli
from atalaya.db import make_engine
from atalaya.records import imports
from atalaya.records.formats import _police_incident, read_jsonl
from atalaya.records.imports import import_records
from atalaya.records.models import Incident
from atalaya.settings import Settings
from conftest import TEST_CONTEXT
from records.test_incidents_api import homicide

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "co-policia"
runner = CliRunner()


def jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return path


def juarez_officer(session: Session) -> Principal:
    from atalaya.accounts.service import get_agency

    agency = get_agency(session, "MX-SSPM-JUA")
    return Principal(0, "import", agency.id, agency.code, AgencyLevel.MUNICIPAL, agency.area.path,
                     frozenset({Role.OFFICER}))  # fmt: skip


def incidents(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Incident)) or 0


def test_it_stores_good_records_and_reports_bad_ones_by_rule(
    tmp_path: Path, db, session: Session
) -> None:  # type: ignore[no-untyped-def]
    path = jsonl(tmp_path / "in.jsonl", [
        homicide(reference="A-1"), homicide(reference="A-2", persons=[]), "{not json",
        homicide(reference="A-3", colour="red"), homicide(reference="A-1"),
    ])  # fmt: skip
    report = import_records(db.sessions, juarez_officer(session), TEST_CONTEXT, read_jsonl(path))
    assert (report.read, report.stored) == (5, 1)
    rejected = {(r.where, e.code) for r in report.rejected for e in r.errors}
    assert rejected == {("line 2", "REC-110"), ("line 3", "API-101"), ("line 4", "API-103"),
                        ("line 5", "REC-112")}  # fmt: skip
    assert incidents(session) == 1


def test_importing_the_same_file_twice_changes_nothing(
    tmp_path: Path, db, session: Session
) -> None:  # type: ignore[no-untyped-def]
    path = jsonl(tmp_path / "in.jsonl", [homicide(reference=f"B-{i}") for i in range(5)])
    officer = juarez_officer(session)
    assert (
        import_records(db.sessions, officer, TEST_CONTEXT, read_jsonl(path), batch_size=2).stored
        == 5
    )
    again = import_records(db.sessions, officer, TEST_CONTEXT, read_jsonl(path), batch_size=2)
    assert (again.stored, again.updated, again.unchanged) == (0, 0, 5)
    changed = jsonl(tmp_path / "changed.jsonl", [homicide(reference="B-0", status="closed")])
    assert import_records(db.sessions, officer, TEST_CONTEXT, read_jsonl(changed)).updated == 1
    assert session.scalar(select(Incident.version).where(Incident.reference == "B-0")) == 2


def test_a_failure_mid_batch_leaves_whole_batches_and_a_rerun_completes(
    tmp_path: Path, db, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    path = jsonl(tmp_path / "in.jsonl", [homicide(reference=f"C-{i}") for i in range(5)])
    officer = juarez_officer(session)
    real_store = imports.store_staged
    calls = {"n": 0}

    def crash_after_writing_the_second_batch(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        refused = real_store(*args, **kwargs)
        if calls["n"] == 2:
            raise RuntimeError("killed")  # its rows are written but not committed
        return refused

    monkeypatch.setattr(imports, "store_staged", crash_after_writing_the_second_batch)
    with pytest.raises(RuntimeError):
        import_records(db.sessions, officer, TEST_CONTEXT, read_jsonl(path), batch_size=2)
    assert incidents(session) == 2  # the first batch, whole; nothing of the second
    monkeypatch.setattr(imports, "store_staged", real_store)
    rerun = import_records(db.sessions, officer, TEST_CONTEXT, read_jsonl(path), batch_size=2)
    assert (rerun.stored, rerun.unchanged) == (3, 2)
    assert incidents(session) == 5


def test_a_police_row_becomes_one_incident_with_its_victims() -> None:
    row = {"ARMAS MEDIOS": "ARMA DE FUEGO", "FECHA HECHO": 44219.0, "GENERO": "FEMENINO",
           "AGRUPA EDAD PERSONA": "ADOLESCENTES", "CODIGO DANE": "91001000", "CANTIDAD": 3.0,
           "_row": 11}  # fmt: skip
    incident = _police_incident(Path("homicidios_2021.xls"), row, 0)
    assert not isinstance(incident, list)
    assert (incident.reference, incident.occurred_from, incident.area) == (
        "homicidios_2021#11",
        "2021-01-23",
        "CO-91-001",
    )
    assert len(incident.persons) == 3 and {p.sex for p in incident.persons} == {"female"}
    assert incident.persons[0].age_group == "13-17"
    assert incident.offences[0].weapon == "firearm"


def test_the_command_imports_and_reports(cli_env: Settings, tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "in.jsonl",
        [homicide(reference="D-1"), homicide(reference="D-2", area="MX-NOPE")],
    )
    result = runner.invoke(
        cli, ["records", "import", str(path), "--format", "jsonl", "--agency", "MX-SSPM-JUA"]
    )
    assert result.exit_code == 0, result.output
    assert "1 stored" in result.output and "1 rejected" in result.output
    assert "line 2 (D-2): REC-118 area" in result.output
    bad = runner.invoke(
        cli, ["records", "import", str(path), "--format", "excel", "--agency", "MX-SSPM-JUA"]
    )
    assert bad.exit_code == 1


def published_totals(path: Path) -> tuple[int, int, Counter[str]]:
    """Rows, victims and rows per municipality, read from the file independently of
    Atalaya's reader (no figures from the data are copied into the repository)."""
    import xlrd

    sheet = xlrd.open_workbook(str(path)).sheet_by_index(0)
    rows = [sheet.row_values(r) for r in range(sheet.nrows)]
    start = next(i for i, r in enumerate(rows) if str(r[0]).strip() == "ARMAS MEDIOS") + 1
    data = []
    for row in rows[start:]:
        if str(row[0]).startswith("TOTAL"):
            break
        data.append(row)
    per_municipality = Counter(f"CO-{str(r[6])[:2]}-{str(r[6])[2:5]}" for r in data)
    return len(data), int(sum(r[7] for r in data)), per_municipality


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "homicidios_2021.xls").exists(), reason="needs ../shared/data")
def test_colombias_2021_homicides_import_as_published(cli_env: Settings) -> None:
    path = SHARED / "homicidios_2021.xls"
    rows, victims, per_municipality = published_totals(path)
    add = runner.invoke(cli, ["agencies", "add", "CO-PONAL", "--name", "Policía Nacional", "--level",
                              "federal", "--area", "CO"])  # fmt: skip
    assert add.exit_code == 0
    result = runner.invoke(cli, ["records", "import", str(path), "--format", "co-policia-homicidios",
                                 "--agency", "CO-PONAL"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{rows} stored" in result.output and "0 rejected" in result.output
    engine = make_engine(cli_env)
    with Session(engine) as s:
        from atalaya.records.models import Involvement

        stored_victims = s.scalar(
            select(func.count()).select_from(Involvement).where(Involvement.role == "victim")
        )
        stored_per_municipality = dict(
            s.execute(select(Incident.area_code, func.count()).group_by(Incident.area_code)).all()
        )
    engine.dispose()
    assert stored_victims == victims
    assert stored_per_municipality == dict(per_municipality)
    # And the summary endpoint says so, for an analyst of the national police.
    user = runner.invoke(cli, ["users", "add", "ana", "--agency", "CO-PONAL", "--role", "analyst"],
                         input="a-long-password\n")  # fmt: skip
    assert user.exit_code == 0, user.output
    token = runner.invoke(cli, ["tokens", "create", "ana"]).output.strip().splitlines()[-1]
    from fastapi.testclient import TestClient

    from atalaya.app import create_app

    params = {
        "area": "CO",
        "occurred_since": "2021-01-01T00:00:00Z",
        "occurred_until": "2022-01-01T00:00:00Z",
    }
    with TestClient(create_app(cli_env)) as client:
        response = client.get("/api/v1/incidents/summary", params={**params, "by": "area"},
                              headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert response.status_code == 200, response.text
    by_area = {item["key"]: item for item in response.json()["items"]}
    assert sum(item["incidents"] for item in by_area.values()) == rows  # 11,528
    assert sum(item["victims"] for item in by_area.values()) == victims  # 13,874
    assert {k: v["incidents"] for k, v in by_area.items()} == dict(per_municipality)


def test_an_export_imports_again_unchanged_and_filters_like_the_list(
    cli_env: Settings, tmp_path: Path
) -> None:
    path = jsonl(tmp_path / "in.jsonl", [homicide(reference="E-1"),
                                         homicide(reference="E-2", offences=[{"iccs": "020111"}], persons=[])])  # fmt: skip
    runner.invoke(
        cli, ["records", "import", str(path), "--format", "jsonl", "--agency", "MX-SSPM-JUA"]
    )
    out = tmp_path / "out.jsonl"
    exported = runner.invoke(cli, ["records", "export", "--output", str(out)])
    assert exported.exit_code == 0, exported.output
    assert sorted(json.loads(line)["reference"] for line in out.read_text().splitlines()) == [
        "E-1",
        "E-2",
    ]
    again = runner.invoke(
        cli, ["records", "import", str(out), "--format", "jsonl", "--agency", "MX-SSPM-JUA"]
    )
    assert "2 unchanged" in again.output
    only = tmp_path / "only.csv"
    runner.invoke(
        cli, ["records", "export", "--format", "csv", "--iccs", "0201", "--output", str(only)]
    )
    rows = only.read_text().splitlines()
    assert rows[0].startswith("agency,reference,version") and len(rows) == 2 and ",E-2," in rows[1]
