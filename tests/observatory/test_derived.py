"""Indicators computed from incident records: counted as records are written, by deltas,
and always equal to a recount of every incident (``derived.rebuild``)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.accounts.models import AgencyLevel
from atalaya.audit.service import AuditContext
from atalaya.db import Database
from atalaya.observatory import derived, rollups
from atalaya.observatory.models import Observation, Series, SeriesYear, Source
from atalaya.observatory.service import publish
from atalaya.records import service
from atalaya.records.formats import read_jsonl
from atalaya.records.imports import import_records
from atalaya.records.schema import IncidentIn
from conftest import TEST_CONTEXT
from records.test_imports import jsonl, juarez_officer
from records.test_incidents_api import URL, homicide
from test_app import assert_problem

INDICATORS = "/api/v1/indicators"
JUAREZ = "MX-08-037"
DELICIAS = "MX-08-021"
MARCH_2019 = {"source_type": "police", "area": JUAREZ, "period": "2019-03"}


def value(client: TestClient, headers: dict[str, str] | None, **params: str) -> float | None:
    """The one value the query answers, ``None`` when it answers nothing."""
    response = client.get(INDICATORS, params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert len(items) <= 1, items
    return items[0]["value"] if items else None


def status(client: TestClient, headers: dict[str, str] | None, **params: str) -> str:
    """The status of the one value the query answers."""
    response = client.get(INDICATORS, params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    (item,) = response.json()["items"]
    return item["status"]  # type: ignore[no-any-return]


def post(client: TestClient, auth, who: str = "alice", **changes: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    changes.setdefault("occurred_from", "2019-03-10T22:15")
    response = client.post(URL, json=homicide(**changes), headers=auth(who))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def put(client: TestClient, auth, incident: dict[str, Any], **changes: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    changes.setdefault("occurred_from", "2019-03-10T22:15")
    body = homicide(reference=incident["reference"], **changes)
    response = client.put(f"{URL}/{incident['id']}", json=body, headers=auth("alice"))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def stored(session: Session) -> dict[tuple[Any, ...], float]:
    """Every observation of the records source, keyed by its series and period."""
    rows = session.execute(
        select(
            Series.indicator,
            Series.iccs_code,
            Series.national_code,
            Series.area_code,
            Series.sex,
            Series.age_group,
            Series.weapon,
            Observation.period,
            Observation.value,
            Observation.status,
        )
        .join(Observation, Observation.series_id == Series.id)
        .join(Source, Source.id == Series.source_id)
        .where(Source.publisher == derived.PUBLISHER, Source.dataset == derived.DATASET)
    )
    found = {}
    for *key, period, amount, status in rows:
        assert status == "provisional"
        if amount:
            found[(*key, period)] = amount
    return found


def test_a_recorded_homicide_counts_at_once_for_the_analyst_of_its_area(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
) -> None:
    bob = auth("bob")
    before = value(client, bob, indicator="victims", iccs="0101", **MARCH_2019) or 0
    post(client, auth, reference="D-1")
    victim = {"role": "victim", "given_names": "Ana", "surnames": "Gil", "sex": "female"}
    offences = [{"iccs": "0101"}, {"iccs": "020111"}]
    post(client, auth, reference="D-2", persons=[victim], offences=offences)
    assert value(client, bob, indicator="victims", iccs="0101", **MARCH_2019) == before + 2
    assert value(client, bob, indicator="offences", iccs="0101", **MARCH_2019) == before + 2
    # The victims of an incident count under its principal (first) offence only.
    assert value(client, bob, indicator="offences", iccs="02", **MARCH_2019) == 1
    assert value(client, bob, indicator="victims", iccs="02", **MARCH_2019) is None
    for sex in ("male", "female"):
        assert value(client, bob, indicator="victims", iccs="0101", sex=sex, **MARCH_2019) == 1
    assert value(client, bob, indicator="victims", iccs="01", age_group="25-34", **MARCH_2019) == 1
    assert (
        value(client, bob, indicator="victims", iccs="01", age_group="unknown", **MARCH_2019) == 1
    )
    assert (
        value(client, bob, indicator="offences", iccs="0101", weapon="firearm", **MARCH_2019) == 1
    )
    assert (
        value(client, bob, indicator="offences", iccs="0101", weapon="unknown", **MARCH_2019) == 1
    )


def test_a_month_without_incidents_is_zero_so_the_year_adds_up(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
) -> None:
    bob = auth("bob")
    post(client, auth, reference="D-1")
    post(client, auth, reference="D-2", occurred_from="2019-11-02")
    year = {"source_type": "police", "indicator": "victims", "iccs": "01", "period": "2019"}
    assert value(client, bob, area=JUAREZ, **year) == 2
    # Rolled up to the state and the country from the municipality.
    assert value(client, bob, area="MX-CHH", **year) == 2
    assert value(client, bob, area="MX", **year) == 2
    june = {**year, "period": "2019-06"}
    assert value(client, bob, area=JUAREZ, **june) == 0


def test_an_edit_moves_the_counts_and_an_unfounded_report_counts_nothing(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
) -> None:
    bob = auth("bob")
    incident = post(client, auth, reference="D-1")
    incident = put(client, auth, incident, offences=[{"iccs": "020111", "weapon": "sharp_object"}])
    assert value(client, bob, indicator="offences", iccs="0101", **MARCH_2019) == 0
    assert value(client, bob, indicator="offences", iccs="020111", **MARCH_2019) == 1
    assert value(client, bob, indicator="victims", iccs="02", **MARCH_2019) == 1
    incident = put(client, auth, incident, occurred_from="2019-04-01")
    assert value(client, bob, indicator="victims", iccs="01", **MARCH_2019) == 0
    april = {**MARCH_2019, "period": "2019-04"}
    assert value(client, bob, indicator="victims", iccs="01", **april) == 1
    put(client, auth, incident, occurred_from="2019-04-01", status="unfounded")
    assert value(client, bob, indicator="victims", iccs="01", **april) == 0


def test_the_counts_stay_unpublished_until_an_administrator_publishes_them(
    client: TestClient,
    auth,
    db: Database,  # type: ignore[no-untyped-def]
) -> None:
    post(client, auth, reference="D-1")
    query = {"indicator": "victims", "iccs": "0101", **MARCH_2019}
    # Anonymous callers, officers and analysts of elsewhere see nothing of it.
    assert value(client, None, **query) is None
    assert value(client, auth("charlie"), **query) is None
    assert value(client, auth("valentina"), **query) is None
    assert value(client, auth("diana"), **query) == 1
    with db.sessions() as session:
        source_id = session.scalar(select(Source.id).where(Source.format == derived.FORMAT))
        assert source_id is not None
        publish(session, TEST_CONTEXT, source_id, iccs="01")
        session.commit()
    # Published: anyone is given it, withheld as a count under 3 (test_disclosure.py).
    assert status(client, None, **query) == "confidential"
    # A series that starts later under a published code is published with it.
    post(client, auth, "diana", reference="D-2", area=DELICIAS)
    assert status(client, None, **{**query, "area": DELICIAS}) == "confidential"
    assert value(client, auth("diana"), **{**query, "area": "MX-CHH"}) == 2


def test_a_refused_record_changes_no_count(client: TestClient, auth, session: Session) -> None:  # type: ignore[no-untyped-def]
    post(client, auth, reference="D-1")
    before = stored(session)
    body = homicide(reference="D-2", occurred_from="2019-03-10", area="MX-NOPE")
    assert_problem(client.post(URL, json=body, headers=auth("alice")), 422, "REC-118")
    incident_id = session.scalar(select(service.Incident.id))
    bad = homicide(reference="D-1", occurred_from="2030-01-01")
    response = client.put(f"{URL}/{incident_id}", json=bad, headers=auth("alice"))
    assert_problem(response, 422, "REC-102")
    assert stored(session) == before


def test_a_bulk_import_counts_the_same_as_a_recount(
    tmp_path: Path, db: Database, session: Session
) -> None:
    records = [
        homicide(reference=f"B-{n}", occurred_from=f"2020-{1 + n % 12:02d}-0{1 + n % 9}",
                 offences=[{"iccs": ("0101", "020111", "020221")[n % 3],
                            "weapon": ("firearm", None, "hands_feet")[n % 3]}],
                 status=("open", "unfounded", "closed", "open")[n % 4],
                 persons=[{"role": "victim", "sex": ("male", "female")[n % 2], "age": 10 + 7 * (n % 9)},
                          {"role": ("witness", "suspect", "arrested")[n % 3]}])
        for n in range(40)
    ]  # fmt: skip
    path = jsonl(tmp_path / "in.jsonl", records)
    report = import_records(
        db.sessions, juarez_officer(session), TEST_CONTEXT, read_jsonl(path), batch_size=7
    )
    assert report.stored == 40
    # Stored now, counted later: the batches queued them.
    assert stored(session) == {} and derived.pending(session) == 40
    assert derived.count_pending(session, batch=15) == 15
    assert derived.count_pending(session) == 25 and derived.pending(session) == 0
    assert derived.count_pending(session) == 0
    incremental = stored(session)
    assert sum(v for k, v in incremental.items() if k[0] == "offences" and k[6] == "_T") == 30
    derived.rebuild(session)
    assert stored(session) == incremental


def test_counts_kept_by_deltas_equal_a_recount_after_random_writes(
    db: Database, session: Session
) -> None:
    # An officer of the state, who may record in both municipalities.
    officer = replace(
        juarez_officer(session), agency_level=AgencyLevel.STATE, jurisdiction_path="/MX/MX-CHH/"
    )
    ctx = AuditContext(TEST_CONTEXT.actor, "test", "cli")
    rng = random.Random(7)  # noqa: S311 - a repeatable sequence of edits, not a secret
    incidents: list[Any] = []

    def body(reference: str) -> IncidentIn:
        persons = [
            {"role": rng.choice(["victim", "suspect", "witness", "arrested"]),
             "sex": rng.choice(["male", "female", "unknown"]),
             "age": rng.choice([None, 15, 30, 70]), "given_names": "Ana", "surnames": "Ruiz"}
            for _ in range(rng.randint(0, 3))
        ]  # fmt: skip
        persons.insert(
            0, {"role": "victim", "sex": "female", "given_names": "Eva", "surnames": "Gil"}
        )
        offences = [
            {"iccs": rng.choice(["0101", "020111", "020221", "0105"]),
             "weapon": rng.choice([None, "firearm", "sharp_object"])}
            for _ in range(rng.randint(1, 3))
        ]  # fmt: skip
        changes = {
            "occurred_from": f"{rng.choice([2018, 2019])}-{rng.randint(1, 12):02d}-15",
            "area": rng.choice([JUAREZ, DELICIAS]),
            "status": rng.choice(["open", "closed", "unfounded"]),
            "offences": offences,
            "persons": persons,
            "vehicles": [],
        }
        return IncidentIn.model_validate(homicide(reference=reference, **changes))

    for step in range(60):
        if incidents and rng.random() < 0.5:
            incident = rng.choice(incidents)
            service.update_incident(session, ctx, officer, incident, body(incident.reference))
        else:
            incidents.append(service.create_incident(session, ctx, officer, body(f"R-{step}")))
        session.flush()
    incremental = stored(session)
    assert incremental
    # The settled years kept by deltas are those the observations settle to.
    years = settled_years(session)
    rollups.refresh(session, session.scalars(select(Series.id)))
    assert settled_years(session) == years
    derived.rebuild(session)
    assert stored(session) == incremental
    # A recount writes no year of zeros where an edit took every incident away.
    assert nonzero(settled_years(session)) == nonzero(years)


def nonzero(
    years: dict[tuple[int, int], tuple[Any, ...]],
) -> dict[tuple[int, int], tuple[Any, ...]]:
    return {key: row for key, row in years.items() if row[0]}


def settled_years(session: Session) -> dict[tuple[int, int], tuple[Any, ...]]:
    rows = session.execute(
        select(SeriesYear.series_id, SeriesYear.year, SeriesYear.value,
               SeriesYear.observations, SeriesYear.status, SeriesYear.complete)
    )  # fmt: skip
    return {(series, year): tuple(rest) for series, year, *rest in rows}


def test_recount_from_the_command_line_restores_the_counts(cli_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import delete
    from typer.testing import CliRunner

    from atalaya.cli import app as cli
    from atalaya.db import make_engine

    runner = CliRunner()
    path = jsonl(tmp_path / "in.jsonl", [homicide(reference=f"C-{n}") for n in range(3)])
    imported = runner.invoke(
        cli, ["records", "import", str(path), "--format", "jsonl", "--agency", "MX-SSPM-JUA"]
    )
    assert imported.exit_code == 0, imported.output
    engine = make_engine(cli_env)
    with Session(engine) as session:
        counted = stored(session)
        session.execute(delete(Observation))
        session.commit()
        assert stored(session) == {}
    result = runner.invoke(cli, ["stats", "recount"])
    assert result.exit_code == 0, result.output
    assert "3 incidents counted" in result.output
    with Session(engine) as session:
        assert stored(session) == counted
        assert counted[("victims", "0101", "", JUAREZ, "_T", "_T", "_T", "2026-11")] == 3
    engine.dispose()


def test_after_a_recount_new_records_still_count_in_every_roll_up(
    client: TestClient,
    auth,
    db: Database,  # type: ignore[no-untyped-def]
) -> None:
    post(client, auth, reference="D-1")
    post(client, auth, "diana", reference="D-2", area=DELICIAS)
    with db.sessions() as session:
        derived.rebuild(session)
        session.commit()
    post(client, auth, reference="D-3")
    post(client, auth, "diana", reference="D-4", area=DELICIAS, occurred_from="2019-07-01")
    diana = auth("diana")
    query = {"source_type": "police", "indicator": "victims", "iccs": "0101"}
    for area, period, expected in (
        (JUAREZ, "2019-03", 2), (DELICIAS, "2019-03", 1), ("MX-CHH", "2019-03", 3),
        ("MX-CHH", "2019", 4), ("MX", "2019", 4), ("MX-CHH", "2019-Q1", 3),
        ("MX-CHH", "2019-Q3", 1), ("MX", "2019-07", 1),
    ):  # fmt: skip
        assert value(client, diana, area=area, period=period, **query) == expected, (area, period)


def test_a_series_is_alone_only_while_no_total_or_part_shares_its_family(
    session: Session,
) -> None:
    facts = derived.Facts(True, JUAREZ, "/MX/MX-CHH/MX-08-037/", 2019, 3,
                          (("0101", "", "", "firearm"),), ())  # fmt: skip
    derived.apply(session, derived.contributions(facts), {JUAREZ: facts.area_path})
    rows = session.execute(select(Series.weapon, Series.alone).where(Series.area_code == JUAREZ))
    # The total and its weapon part: a family of two.
    assert dict(rows.all()) == {"_T": False, "firearm": False}
    lone = derived.Facts(True, DELICIAS, "/MX/MX-CHH/MX-08-021/", 2019, 3,
                         (("0101", "", "", "firearm"),), ())  # fmt: skip
    delta = Counter({k: v for k, v in derived.contributions(lone).items() if k[0].weapon == "_T"})
    derived.apply(session, delta, {DELICIAS: lone.area_path})
    alone = session.scalar(select(Series.alone).where(Series.area_code == DELICIAS))
    assert alone is True
    derived.apply(session, derived.contributions(lone), {DELICIAS: lone.area_path})
    rows = session.execute(select(Series.weapon, Series.alone).where(Series.area_code == DELICIAS))
    assert dict(rows.all()) == {"_T": False, "firearm": False}


def test_an_incident_changed_before_it_is_counted_counts_once_as_it_is_then(
    tmp_path: Path, db: Database, session: Session
) -> None:
    path = jsonl(tmp_path / "in.jsonl", [homicide(reference="Q-1", occurred_from="2019-03-10")])
    officer = juarez_officer(session)
    import_records(db.sessions, officer, TEST_CONTEXT, read_jsonl(path))
    (incident,) = session.scalars(select(service.Incident)).all()
    changed = homicide(reference="Q-1", occurred_from="2019-05-10", offences=[{"iccs": "020111"}])
    service.update_incident(
        session, TEST_CONTEXT, officer, incident, IncidentIn.model_validate(changed)
    )
    assert stored(session) == {}
    assert derived.count_pending(session) == 1
    found = stored(session)
    offences = {k[1]: v for k, v in found.items() if k[0] == "offences" and k[6] == "_T"}
    assert offences == {"020111": 1.0}
    assert {k[-1] for k in found} == {"2019-05"}
    derived.rebuild(session)
    assert stored(session) == found


def test_a_deferred_import_is_counted_by_the_worker(cli_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from atalaya.cli import app as cli
    from atalaya.db import make_engine

    runner = CliRunner()
    path = jsonl(tmp_path / "in.jsonl", [homicide(reference=f"W-{n}") for n in range(4)])
    imported = runner.invoke(cli, ["records", "import", str(path), "--format", "jsonl",
                                   "--agency", "MX-SSPM-JUA", "--defer-counting"])  # fmt: skip
    assert imported.exit_code == 0, imported.output
    assert "4 incidents left to count (atalaya stats count)" in imported.output
    engine = make_engine(cli_env)
    with Session(engine) as session:
        assert stored(session) == {}
    worked = runner.invoke(cli, ["worker", "--once"])
    assert worked.exit_code == 0, worked.output
    assert "4 incidents counted" in worked.output
    with Session(engine) as session:
        assert derived.pending(session) == 0
        assert stored(session)[("victims", "0101", "", JUAREZ, "_T", "_T", "_T", "2026-11")] == 4
    assert "0 incidents counted" in runner.invoke(cli, ["stats", "count"]).output
    engine.dispose()
