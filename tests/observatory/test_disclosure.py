"""Statistical disclosure control: a restricted incident counts in no figure, and the
public is never given a count under its source's threshold, nor a figure it could be
worked out from (``atalaya.observatory.disclosure``)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sdmx
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from atalaya.audit.models import AuditEntry
from atalaya.cli import app as cli
from atalaya.clitools import unit_of_work
from atalaya.db import Database, make_engine
from atalaya.migrations import alembic_config
from atalaya.observatory import derived, disclosure, suppression
from atalaya.observatory.models import Source
from atalaya.observatory.query import EVERYTHING, IndicatorQuery, query
from atalaya.observatory.service import publish, set_threshold
from atalaya.records import service as records
from atalaya.records.schema import IncidentIn
from atalaya.settings import Settings
from conftest import TEST_CONTEXT
from observatory.samples import VINTAGE, conapo_file, run_import, sesnsp_file, sesnsp_row
from observatory.test_dashboard import page
from records.test_imports import juarez_officer
from records.test_incidents_api import URL, homicide

INDICATORS, EXPORT = "/api/v1/indicators", "/api/v1/indicators/export"
JUAREZ, DELICIAS = "MX-08-037", "MX-08-021"
VICTIMS = {"source_type": "police", "indicator": "victims", "iccs": "0101"}
OFFENCES = {"source_type": "police", "indicator": "offences"}
MARCH = "2019-03"
CONFIDENTIAL = "confidential"
Headers = dict[str, str] | None


def post(client: TestClient, auth, who: str = "alice", **changes: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    changes.setdefault("occurred_from", "2019-03-10T22:15")
    response = client.post(URL, json=homicide(**changes), headers=auth(who))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def homicides(client: TestClient, auth, count: int, who: str = "alice", **changes: Any) -> None:  # type: ignore[no-untyped-def]
    prefix = changes.pop("prefix", who)
    for n in range(count):
        post(client, auth, who, reference=f"{prefix}-{n}", **changes)


def records_source(session: Session) -> int:
    found = session.scalar(select(Source.id).where(Source.format == derived.FORMAT))
    assert found is not None
    return found


def publish_records(db: Database) -> None:
    with unit_of_work(SimpleNamespace(db=db)) as session:  # type: ignore[arg-type]
        publish(session, TEST_CONTEXT, records_source(session))


def items(client: TestClient, headers: Headers = None, **params: str) -> list[dict[str, Any]]:
    response = client.get(INDICATORS, params={**params, "limit": "500"}, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def figure(client: TestClient, headers: Headers = None, **params: str) -> float | str | None:
    """The one value the query answers, ``"confidential"`` when it is withheld."""
    (item,) = items(client, headers, **params)
    if item["status"] == CONFIDENTIAL:
        assert item["value"] is None and item["rate_per_100k"] is None
        return CONFIDENTIAL
    return item["value"]  # type: ignore[no-any-return]


def by(client: TestClient, key: str, **params: str) -> dict[str, float | str | None]:
    """The public's figures by area or ICCS code, ``"confidential"`` where withheld."""
    return {
        v[key]: CONFIDENTIAL if v["status"] == CONFIDENTIAL else v["value"]
        for v in items(client, **params)
    }


def cannot_be_worked_out(total: float | str | None, parts: list[float | str | None]) -> bool:
    """Whether no part is withheld alone: a total shown less the parts shown would give it."""
    withheld = [p for p in parts if p == CONFIDENTIAL]
    return total == CONFIDENTIAL or len(withheld) != 1


def test_a_restricted_incident_counts_in_no_figure_the_api_exports_or_the_dashboard_show(
    client: TestClient,
    auth,
    db: Database,  # type: ignore[no-untyped-def]
) -> None:
    homicides(client, auth, 3)
    post(client, auth, reference="SECRET-1", restricted=True)
    publish_records(db)
    march = {**VICTIMS, "area": JUAREZ, "period": MARCH}
    assert figure(client, **march) == 3
    (row,) = csv_rows(client, **march)
    assert (row["value"], row["status"]) == ("3", "provisional")
    _, parsed = page(client, indicator="victims", iccs="0101", area="MX-CHH", period="2019")
    assert parsed.tables["areas-1-table"][JUAREZ] == [3]
    # Not counted at all: the analysts of the area do not see it counted either.
    assert figure(client, auth("bob"), **march) == 3
    assert figure(client, auth("diana"), **{**march, "area": "MX"}) == 3


def test_an_incident_marked_restricted_leaves_the_counts_and_comes_back_when_unmarked(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
) -> None:
    homicides(client, auth, 3)
    incident = post(client, auth, reference="LATER-1")
    march = {**VICTIMS, "area": JUAREZ, "period": MARCH}
    assert figure(client, auth("bob"), **march) == 4
    body = homicide(reference="LATER-1", occurred_from="2019-03-10T22:15", restricted=True)
    response = client.put(f"{URL}/{incident['id']}", json=body, headers=auth("alice"))
    assert response.status_code == 200, response.text
    assert figure(client, auth("bob"), **march) == 3
    body["restricted"] = False
    assert (
        client.put(f"{URL}/{incident['id']}", json=body, headers=auth("alice")).status_code == 200
    )
    assert figure(client, auth("bob"), **march) == 4


def test_a_count_of_one_or_two_is_confidential_for_the_public_and_exact_for_analysts(
    client: TestClient,
    auth,
    db: Database,  # type: ignore[no-untyped-def]
) -> None:
    post(client, auth, reference="ONE-1")
    homicides(client, auth, 2, "diana", area=DELICIAS, occurred_from="2019-05-02")
    publish_records(db)
    march = {**VICTIMS, "area": JUAREZ, "period": MARCH}
    (item,) = items(client, **march)
    assert (item["value"], item["status"], item["rate_per_100k"]) == (None, CONFIDENTIAL, None)
    assert any("Confidential" in note for note in item["notes"])
    may = {**VICTIMS, "area": DELICIAS, "period": "2019-05"}
    assert figure(client, **may) == CONFIDENTIAL
    # Signed in without stats.read_unpublished is the public's view.
    assert figure(client, auth("charlie"), **march) == CONFIDENTIAL
    assert figure(client, auth("bob"), **march) == 1
    assert figure(client, auth("diana"), **may) == 2


def test_a_confidential_count_is_exported_without_its_value_in_every_format(
    client: TestClient,
    auth,
    db: Database,  # type: ignore[no-untyped-def]
) -> None:
    post(client, auth, reference="ONE-1")
    publish_records(db)
    march = {**VICTIMS, "area": JUAREZ, "period": MARCH}
    (row,) = csv_rows(client, **march)
    assert (row["value"], row["status"], row["status_label"]) == ("", CONFIDENTIAL, "Confidential")
    sheet = xlsx_rows(exported(client, "xlsx", **march))
    (data,) = sheet[1:]
    assert data[sheet[0].index("value")] is None and CONFIDENTIAL in data
    (line,) = csv.DictReader(io.StringIO(exported(client, "sdmx-csv", **march).decode()))
    assert (line["OBS_VALUE"], line["OBS_STATUS"]) == ("", "C")
    message = sdmx.read_sdmx(io.BytesIO(exported(client, "sdmx-json", **march)))
    (observation,) = [o for ds in message.data for o in ds.obs]
    assert str(observation.attrib["OBS_STATUS"].value) == "C"
    assert observation.value in (None, "") or observation.value != observation.value  # NaN
    # The analyst of the area exports the count.
    (row,) = csv_rows(client, auth("bob"), **march)
    assert (row["value"], row["status"]) == ("1", "provisional")


@pytest.mark.parametrize(
    ("language", "word"),
    [
        ("en", "Confidential"),
        ("es", "Confidencial"),
        ("pt", "Confidencial"),
        ("fr", "Confidentiel"),
    ],
)
def test_the_dashboard_shows_a_confidential_count_as_confidential_in_the_readers_language(
    client: TestClient,
    auth,
    db: Database,
    language: str,
    word: str,  # type: ignore[no-untyped-def]
) -> None:
    post(client, auth, reference="ONE-1")
    publish_records(db)
    client.cookies.set("atalaya_lang", language)
    html, parsed = page(client, indicator="victims", iccs="0101", area="MX-CHH", period="2019")
    assert parsed.tables["areas-1-table"][JUAREZ] == []
    row = html[html.index(f'<tr data-area="{JUAREZ}">') :]
    assert word in row[: row.index("</tr>")]


def test_a_municipality_withheld_cannot_be_worked_out_from_its_state_and_the_others(
    client: TestClient,
    auth,
    db: Database,  # type: ignore[no-untyped-def]
) -> None:
    post(client, auth, reference="ONE-1")
    homicides(client, auth, 4, "diana", area=DELICIAS)
    publish_records(db)
    march = {**VICTIMS, "period": MARCH}
    state = figure(client, **march, area="MX-CHH")
    assert state == 5
    asked = {area: figure(client, **march, area=area) for area in (JUAREZ, DELICIAS)}
    # Delicias' four are withheld too: otherwise 5 - 4 gives Juárez away.
    assert asked == {JUAREZ: CONFIDENTIAL, DELICIAS: CONFIDENTIAL}
    # Listed as stored, without an area: the same figures, the same withheld.
    assert by(client, "area", **march) == asked
    assert cannot_be_worked_out(state, list(asked.values()))
    assert figure(client, auth("diana"), **march, area=DELICIAS) == 4


def test_an_iccs_code_withheld_cannot_be_worked_out_from_its_parent_and_the_others(
    client: TestClient,
    auth,
    db: Database,  # type: ignore[no-untyped-def]
) -> None:
    post(client, auth, reference="ONE-1")
    attempt = [{"iccs": "0102", "weapon": "firearm"}]
    homicides(client, auth, 4, offences=attempt, prefix="ATTEMPT")
    publish_records(db)
    march = {**OFFENCES, "area": JUAREZ, "period": MARCH}
    division = figure(client, **march, iccs="01")
    assert division == 5
    asked = {code: figure(client, **march, iccs=code) for code in ("0101", "0102")}
    assert asked == {"0101": CONFIDENTIAL, "0102": CONFIDENTIAL}
    assert by(client, "iccs", **march) == asked
    assert cannot_be_worked_out(division, list(asked.values()))
    # Nor from the state's: Juárez is all there is of it.
    state = {code: figure(client, **{**march, "area": "MX-CHH"}, iccs=code) for code in asked}
    assert state == asked


def test_a_month_withheld_cannot_be_worked_out_from_its_quarter_or_its_year(
    client: TestClient,
    auth,
    db: Database,  # type: ignore[no-untyped-def]
) -> None:
    post(client, auth, reference="ONE-1")
    homicides(client, auth, 5, occurred_from="2019-04-11T10:00")
    publish_records(db)
    juarez = {**VICTIMS, "area": JUAREZ}
    year = figure(client, **juarez, period="2019")
    assert year == 6
    quarters = [figure(client, **juarez, period=f"2019-Q{q}") for q in range(1, 5)]
    months = {p["period"]: p for p in items(client, **juarez, frequency="M")}
    shown = [CONFIDENTIAL if m["status"] == CONFIDENTIAL else m["value"] for m in months.values()]
    assert months["2019-03"]["status"] == CONFIDENTIAL
    assert cannot_be_worked_out(year, quarters) and cannot_be_worked_out(year, shown)
    first = [
        CONFIDENTIAL if months[f"2019-0{m}"]["status"] == CONFIDENTIAL else 0 for m in (1, 2, 3)
    ]
    assert cannot_be_worked_out(quarters[0], first)


def test_the_threshold_is_the_sources_own_and_official_statistics_have_none_by_default(
    client: TestClient, auth, db: Database, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    homicides(client, auth, 4)
    rows = [sesnsp_row(2021, 8, ("Homicidio", "Homicidio doloso", "Con arma blanca"), ["2"] * 12),
            sesnsp_row(2021, 8, ("Homicidio", "Homicidio doloso", "Con arma de fuego"), ["9"] * 12)]  # fmt: skip
    run_import(db, sesnsp_file(tmp_path, rows), "sesnsp-idefc")
    run_import(db, conapo_file(tmp_path), "conapo-population", VINTAGE)
    with unit_of_work(SimpleNamespace(db=db)) as session:  # type: ignore[arg-type]
        thresholds = dict(session.execute(select(Source.format, Source.disclosure_threshold)).all())
        for source in session.scalars(select(Source.id)).all():
            publish(session, TEST_CONTEXT, source)
    assert thresholds == {"records": 3, "sesnsp-idefc": 0, "conapo-population": 0}
    knife = {"indicator": "offences", "iccs": "0101", "area": "MX-CHH", "weapon": "sharp_object",
             "period": "2021-03", "source_type": "police"}  # fmt: skip
    (item,) = [v for v in items(client, **knife) if v["sources"][0]["publisher"] == "SESNSP"]
    assert (item["value"], item["rate_per_100k"]) == (2, 1.0)
    juarez = {**OFFENCES, "iccs": "0101", "area": JUAREZ, "period": MARCH}
    assert figure(client, **juarez) == 4
    with unit_of_work(SimpleNamespace(db=db)) as session:  # type: ignore[arg-type]
        sesnsp = session.scalar(select(Source.id).where(Source.publisher == "SESNSP"))
        assert sesnsp is not None
        set_threshold(session, TEST_CONTEXT, sesnsp, 3)
        set_threshold(session, TEST_CONTEXT, records_source(session), 5)
    (item,) = [v for v in items(client, **knife) if v["sources"][0]["publisher"] == "SESNSP"]
    # Withheld, and its rate with it.
    assert (item["value"], item["status"], item["rate_per_100k"]) == (None, CONFIDENTIAL, None)
    assert figure(client, **juarez) == CONFIDENTIAL
    # A new edition of a dataset withholds what the one before it did.
    run_import(db, sesnsp_file(tmp_path, rows, name="IDEFC_NM_jun22.csv"), "sesnsp-idefc")
    with unit_of_work(SimpleNamespace(db=db)) as session:  # type: ignore[arg-type]
        editions = session.scalars(
            select(Source.disclosure_threshold).where(Source.publisher == "SESNSP")
        )
        assert editions.all() == [3, 3]


def test_the_command_shows_and_sets_a_sources_threshold_and_audits_it(
    cli_env: Settings, tmp_path: Path
) -> None:
    runner = CliRunner()
    imported = runner.invoke(cli, ["stats", "import", str(sesnsp_file(tmp_path)),
                                   "--format", "sesnsp-idefc"])  # fmt: skip
    assert imported.exit_code == 0, imported.output
    shown = runner.invoke(cli, ["stats", "threshold", "1"])
    assert shown.exit_code == 0 and "public counts under 0 withheld" in shown.output
    changed = runner.invoke(cli, ["stats", "threshold", "1", "3"])
    assert changed.exit_code == 0, changed.output
    assert "public counts under 3 withheld (was 0)" in changed.output
    assert runner.invoke(cli, ["stats", "threshold", "1", "-1"]).exit_code != 0
    missing = runner.invoke(cli, ["stats", "threshold", "99", "3"])
    assert missing.exit_code != 0 and "OBS-117" in missing.output
    engine = make_engine(cli_env)
    with Session(engine) as session:
        (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "stats.threshold"))
        assert (entry.object_id, json.loads(entry.detail)) == ("1", {"before": 0, "after": 3})
    engine.dispose()


def test_an_upgrade_counts_the_records_again_without_the_restricted_incidents(
    fresh_database: Settings,
) -> None:
    from alembic import command

    engine = make_engine(fresh_database)
    with Session(engine) as session:
        officer = juarez_officer(session)
        for n, restricted in enumerate((False, True)):
            body = homicide(reference=f"U-{n}", occurred_from="2019-03-10", restricted=restricted)
            records.create_incident(session, TEST_CONTEXT, officer, IncidentIn.model_validate(body))
        session.flush()
        counted = victims(session)
        assert counted == 1
        # As the code before it did: the restricted incident counted too.
        (secret,) = [i for i in session.scalars(select(records.Incident)) if i.restricted]
        counted_anyway = replace(derived.facts_of(secret), counted=True)
        derived.record_change(session, None, counted_anyway)
        session.commit()
        assert victims(session) == 2
    config = alembic_config(engine)
    command.downgrade(config, "0018")
    command.upgrade(config, "head")
    with Session(engine) as session:
        assert derived.pending(session) == 2
        derived.count_pending(session)
        assert victims(session) == 1
        assert session.scalar(select(Source.disclosure_threshold)) == 3
    engine.dispose()


def victims(session: Session) -> float:
    q = IndicatorQuery(indicator="victims", iccs="0101", area=JUAREZ, period=MARCH)
    (value,) = query(session, q, EVERYTHING)
    assert value.value is not None
    return value.value


def exported(client: TestClient, format: str, headers: Headers = None, **params: str) -> bytes:
    response = client.get(EXPORT, params={"format": format, **params}, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.content


def csv_rows(client: TestClient, headers: Headers = None, **params: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(exported(client, "csv", headers, **params).decode())))


def xlsx_rows(body: bytes) -> list[tuple[Any, ...]]:
    book = load_workbook(io.BytesIO(body), read_only=True)
    return list(book["data"].iter_rows(values_only=True))


# The rule itself, on tables of random records.
AREAS = ("/MX/MX-CHH/MX-08-037/", "/MX/MX-CHH/MX-08-021/", "/MX/MX-CHH/", "/MX/MX-JAL/MX-14-039/")
CODES = ("0101", "0102", "020111", "0201", "02")
SEXES = ("male", "female", "unknown")


@st.composite
def records_tables(draw: st.DrawFn) -> tuple[list[Any], list[Any]]:
    """Series as the records give them (a total and its parts by sex, adding up) and their
    monthly counts, mostly small."""
    series: list[Any] = []
    observations: list[Any] = []
    cells = draw(st.sets(st.tuples(st.sampled_from(AREAS), st.sampled_from(CODES)), max_size=6))
    for area, code in sorted(cells):
        parts = {}
        for sex in SEXES:
            months = draw(st.dictionaries(st.integers(1, 12), st.integers(1, 6), max_size=4))
            if months:
                parts[sex] = months
        if not parts:
            continue
        total = len(series) + 1
        series.append((total, area, code, "", "", "_T", "_T", "_T"))
        added: dict[int, int] = {}
        for sex, months in parts.items():
            series.append((len(series) + 1, area, code, "", "", sex, "_T", "_T"))
            observations += [(len(series), "M", m, float(v)) for m, v in months.items()]
            for m, v in months.items():
                added[m] = added.get(m, 0) + v
        observations += [(total, "M", m, float(v)) for m, v in added.items()]
    return series, observations


def every_equation(table: suppression.Table) -> list[tuple[int, list[int]]]:
    sizes = [range(len(d.nodes)) for d in table.dimensions]
    found = []
    for coordinates in itertools.product(*sizes):
        cell = sum(n * s for n, s in zip(coordinates, table.strides, strict=True))
        for kind in range(suppression.KINDS):
            d = suppression.DIMENSION_OF[kind]
            if kind in table.dimensions[d].parts[coordinates[d]]:
                found.append(table.terms(cell * suppression.KINDS + kind))
    return found


@settings(max_examples=60, deadline=None)
@given(records_tables(), st.integers(1, 5))
def test_no_total_and_its_parts_ever_leave_exactly_one_figure_withheld(
    data: tuple[list[Any], list[Any]], threshold: int
) -> None:
    table = suppression.build_table(*data)
    withheld = suppression.withheld_cells(table, threshold)
    assert withheld == suppression.withheld_cells(table, threshold)
    small = {c for c, v in table.values.items() if v < threshold}
    assert small <= withheld
    for total, parts in every_equation(table):
        # The records add up: each total is its parts' sum.
        assert table.values.get(total, 0) == sum(table.values.get(p, 0) for p in parts)
        assert len({total, *parts} & withheld) != 1, (total, parts)


def test_the_table_holds_the_figures_the_query_gives(session: Session) -> None:
    rng = random.Random(12)  # noqa: S311 - repeatable records, not a secret
    officer = juarez_officer(session)
    for n in range(30):
        persons = [{"role": "victim", "sex": rng.choice(SEXES), "given_names": "Ana",
                    "surnames": "Gil", "age": rng.choice([None, 20, 40])}]  # fmt: skip
        body = homicide(reference=f"T-{n}", occurred_from=f"2019-{rng.randint(1, 12):02d}-03",
                        offences=[{"iccs": rng.choice(["0101", "0102", "020111"])}],
                        persons=persons, vehicles=[])  # fmt: skip
        records.create_incident(session, TEST_CONTEXT, officer, IncidentIn.model_validate(body))
    publish(session, TEST_CONTEXT, records_source(session))
    session.flush()
    key = (records_source(session), "victims", "/MX/", 2019)
    found = disclosure.pattern(session, key, 3)
    asked = [
        IndicatorQuery(indicator="victims", frequency="M"),
        IndicatorQuery(indicator="victims", area="MX", iccs="01", frequency="Q", by=("sex",)),
        IndicatorQuery(indicator="victims", area="MX-CHH", period="2019", by=("age_group",)),
        IndicatorQuery(indicator="victims", iccs="02", frequency="A"),
    ]
    compared = 0
    for q in asked:
        for v in query(session, q, EVERYTHING):
            number = found.number(disclosure.coordinates_of(q, v))
            held = found.table.values.get(number, 0.0) if number is not None else 0.0
            assert held == v.value, (q, v.key)
            compared += 1
    assert compared > 20
