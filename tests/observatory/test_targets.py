"""National plans and targets: progress computed from the observatory's data, with the
arithmetic shown; missing data is not available, never zero; bad targets are refused
whole; plans nobody may read are answered as plans that do not exist."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from atalaya.cli import app as cli
from atalaya.clitools import unit_of_work
from atalaya.db import Database, make_engine
from atalaya.errors import DomainError
from atalaya.observatory.models import NationalPlan, PlanTarget
from atalaya.observatory.query import EVERYTHING, PUBLIC
from atalaya.observatory.targets import (
    NewPlan,
    NewTarget,
    add_plan,
    add_target,
    get_plan,
    progress,
    publish_plan,
)
from atalaya.settings import Settings
from conftest import TEST_CONTEXT
from observatory.samples import VINTAGE, conapo_file, load_samples, sesnsp_file
from observatory.test_api import publish_all

# The samples (observatory/samples.py): ICCS 0101 offences in 2021, Chihuahua 156 (rate
# 78.0 on 200,000), Jalisco 2,100, Mexico 2,256 (rate 225.6 on 1,000,000); Chihuahua's
# 2022 has January to May only, so no 2022 total.
runner = CliRunner()


@pytest.fixture
def samples(db: Database, tmp_path: Path) -> None:
    load_samples(db, tmp_path)


def make_plan(db: Database, *targets: NewTarget, area: str = "MX", published: bool = False) -> str:
    with unit_of_work(SimpleNamespace(db=db)) as session:  # type: ignore[arg-type]
        plan = NewPlan("PLAN", "Plan nacional", area, 2019, 2024, "DOF 2019", published)
        add_plan(session, TEST_CONTEXT, plan)
        for target in targets:
            add_target(session, TEST_CONTEXT, "PLAN", target)
    return "PLAN"


def homicides(
    baseline: float,
    target: float,
    area: str = "MX-CHH",
    years: tuple[int, int] = (2019, 2023),
    **other: str,
) -> NewTarget:
    return NewTarget("offences", area, years[0], baseline, years[1], target, iccs="0101", **other)


def progress_of(session: Session, year: int | None = None):
    return progress(session, get_plan(session, "PLAN"), EVERYTHING, year)


@pytest.mark.usefixtures("samples")
def test_reduction_and_increase_targets_on_and_off_track_with_the_arithmetic(
    db: Database, session: Session
) -> None:
    make_plan(
        db,
        homicides(300, 100),  # expected 2021: 200; 156 is below: on track
        homicides(160, 100),  # expected 130: off track
        homicides(100, 200),  # increase, expected 150: on track
        homicides(100, 300),  # increase, expected 200: off track
    )
    down_on, down_off, up_on, up_off = progress_of(session)
    assert [
        (p.year, p.current, p.expected, p.status, p.direction) for p in progress_of(session)
    ] == [
        (2021, 156, 200, "on_track", "decrease"),
        (2021, 156, 130, "off_track", "decrease"),
        (2021, 156, 150, "on_track", "increase"),
        (2021, 156, 200, "off_track", "increase"),
    ]
    assert down_on.arithmetic == (
        "baseline 2019: 300; target 2023: 100; "
        "expected 2021: 300 + (100 \u2212 300) \u00d7 2/4 = 200; current 2021: 156 \u2192 on track"
    )
    assert (down_on.elapsed, down_on.span) == (2, 4)
    assert [p.done_percent for p in (down_on, down_off, up_on, up_off)] == [72.0, 6.7, 56.0, 28.0]
    assert down_on.source is not None and down_on.source.publisher == "SESNSP"


@pytest.mark.usefixtures("samples")
def test_rate_targets_use_the_populations(db: Database, session: Session) -> None:
    make_plan(
        db,
        homicides(300.0, 200.0, area="MX", years=(2019, 2024), measure="rate_per_100k"),
        homicides(70.0, 50.0, area="MX-CHH", years=(2020, 2025), measure="rate_per_100k"),
    )
    national, chihuahua = progress_of(session)
    assert (national.current, national.expected, national.status) == (225.6, 260.0, "on_track")
    assert national.arithmetic == (
        "baseline 2019: 300; target 2024: 200; expected 2021: 300 + (200 \u2212 300) \u00d7 2/5"
        " = 260; current 2021: 225.6 \u2192 on track"
    )
    assert (chihuahua.current, chihuahua.expected, chihuahua.status) == (78.0, 66.0, "off_track")


@pytest.mark.usefixtures("samples")
def test_missing_data_is_not_available_with_a_reason_never_zero(
    db: Database, session: Session
) -> None:
    nothing = NewTarget("offences", "MX", 2019, 10, 2023, 5, iccs="02")
    make_plan(db, nothing, homicides(300, 100), homicides(300, 100, years=(2022, 2024)))
    no_data, _, after_baseline = progress_of(session)
    for p in (no_data, after_baseline):
        assert (p.status, p.current, p.expected, p.arithmetic) == (
            "not_available",
            None,
            None,
            None,
        )
    assert [n.message for n in no_data.reasons] == [
        "No year from the baseline year {baseline} on has a value."
    ]
    # 2022 has January to May only: no total, so no value, and the query's note says why.
    _, partial, _ = progress_of(session, 2022)
    assert partial.status == "not_available" and partial.current is None
    assert [n.params for n in partial.reasons][:2] == [{"year": 2022}, {"period": "2022"}]
    _, before, _ = progress_of(session, 2018)
    assert before.reasons[0].params == {"year": 2018, "baseline": 2019}
    # Unpublished series are invisible to the public: nothing to measure, nothing zero.
    for p in progress(session, get_plan(session, "PLAN"), PUBLIC):
        assert (p.status, p.current) == ("not_available", None)


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.usefixtures("samples")
def test_bad_targets_are_refused_whole_with_their_codes(db: Database, session: Session) -> None:
    make_plan(db)
    with pytest.raises(DomainError) as unknown_plan:
        add_target(session, TEST_CONTEXT, "NOPE", homicides(300, 100))
    assert unknown_plan.value.code == "OBS-118"
    bad = NewTarget("robberies", "CO-ANT", 2023, 10, 2019, 5, measure="share")
    with pytest.raises(DomainError) as refused:
        add_target(session, TEST_CONTEXT, "PLAN", bad)
    assert {(e.field, e.code) for e in refused.value.errors} == {
        ("indicator", "OBS-116"),
        ("measure", "OBS-116"),
        ("iccs", "OBS-122"),
        ("target_year", "OBS-120"),
        ("area", "OBS-121"),
    }
    with pytest.raises(DomainError) as published_rate:
        add_target(
            session,
            TEST_CONTEXT,
            "PLAN",
            NewTarget(
                "offences_per_100k_published",
                "MX",
                2019,
                1,
                2020,
                2,
                iccs="0101",
                measure="rate_per_100k",
            ),
        )
    assert [(e.field, e.code) for e in published_rate.value.errors] == [("measure", "OBS-116")]
    with pytest.raises(DomainError) as unknown_iccs:
        add_target(
            session,
            TEST_CONTEXT,
            "PLAN",
            NewTarget("offences", "MX", 2019, 1, 2020, 2, iccs="9999"),
        )
    assert [(e.field, e.code) for e in unknown_iccs.value.errors] == [("iccs", "OBS-115")]
    with pytest.raises(DomainError) as taken:
        add_plan(session, TEST_CONTEXT, NewPlan("PLAN", "Again", "MX", 2019, 2024))
    with pytest.raises(DomainError) as backwards:
        add_plan(session, TEST_CONTEXT, NewPlan("OTHER", "Backwards", "MX", 2024, 2019))
    assert (taken.value.code, backwards.value.code) == ("OBS-119", "OBS-120")
    assert (count(session, NationalPlan), count(session, PlanTarget)) == (1, 0)


def get_progress(client: TestClient, headers: dict[str, str] | None = None, code: str = "PLAN"):
    return client.get(f"/api/v1/plans/{code}/progress", headers=headers or {})


@pytest.mark.usefixtures("samples")
def test_outsiders_cannot_learn_that_an_unpublished_plan_exists(
    client: TestClient,
    db: Database,
    auth,
) -> None:
    make_plan(db, homicides(300, 100), area="MX-CHH")
    unknown = get_progress(client, code="NOPE")
    assert unknown.status_code == 404 and unknown.json()["code"] == "OBS-118"
    for headers in (None, auth("valentina"), auth("alice")):
        response = get_progress(client, headers)
        assert response.status_code == 404 and response.json()["code"] == "OBS-118"
        assert client.get("/api/v1/plans", headers=headers or {}).json()["total"] == 0
    # Diana supervises Chihuahua: she reads it, on the unpublished series she may see.
    seen = get_progress(client, auth("diana"))
    assert seen.status_code == 200, seen.text
    (target,) = seen.json()["targets"]
    assert (target["status"], target["current_value"], target["on_track"]) == (
        "on_track",
        156,
        True,
    )
    assert target["arithmetic"]["text"].endswith("current 2021: 156 \u2192 on track")


@pytest.mark.usefixtures("samples")
def test_a_published_plan_is_open_only_when_its_series_are(
    client: TestClient, db: Database
) -> None:
    make_plan(db, homicides(300, 100), published=True)
    assert get_progress(client).status_code == 404
    assert client.get("/api/v1/plans").json()["total"] == 0
    publish_all(db)
    response = get_progress(client, code="PLAN")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["plan"], body["area"], body["targets"][0]["status"]) == ("PLAN", "MX", "on_track")
    (plan,) = client.get("/api/v1/plans").json()["items"]
    assert (plan["code"], plan["targets"][0]["iccs"], plan["published"]) == ("PLAN", "0101", True)
    with unit_of_work(SimpleNamespace(db=db)) as session:  # type: ignore[arg-type]
        publish_plan(session, TEST_CONTEXT, "PLAN", withdraw=True)
    assert get_progress(client).status_code == 404


def test_the_commands_add_plans_and_targets_and_show_progress_as_json(
    cli_env: Settings, tmp_path: Path
) -> None:
    def run(*args: str):
        return runner.invoke(cli, ["stats", *args])

    assert run("import", str(sesnsp_file(tmp_path)), "--format", "sesnsp-idefc").exit_code == 0
    pop = run("import", str(conapo_file(tmp_path)), "--format", "conapo-population",
              "--vintage", VINTAGE.isoformat())  # fmt: skip
    assert pop.exit_code == 0, pop.output
    added = run("plans", "add", "PNSP", "--name", "Programa", "--area", "MX", "--from", "2019",
                "--to", "2024")  # fmt: skip
    assert added.exit_code == 0, added.output
    target = ["--indicator", "offences", "--iccs", "0101", "--area", "MX", "--baseline-year",
              "2019", "--baseline-value", "300", "--target-year", "2024", "--target-value", "200",
              "--measure", "rate_per_100k"]  # fmt: skip
    assert run("targets", "add", "PNSP", *target).exit_code == 0
    backwards = run("targets", "add", "PNSP", *target[:-5], "2018", *target[-4:])
    assert backwards.exit_code == 1 and "OBS-120" in backwards.output
    unknown = run("progress", "NOPE")
    assert unknown.exit_code == 1 and "OBS-118" in unknown.output
    result = run("progress", "PNSP", "--format", "json")
    assert result.exit_code == 0, result.output
    (found,) = json.loads(result.output)["targets"]
    assert (found["year"], found["current_value"], found["expected_value"]) == (2021, 225.6, 260)
    assert (found["status"], found["on_track"], found["done_percent"]) == ("on_track", True, 74.4)
    assert found["arithmetic"]["text"].endswith("= 260; current 2021: 225.6 \u2192 on track")
    table = run("progress", "PNSP")
    assert table.exit_code == 0 and "→ on track" in table.output
    engine = make_engine(cli_env)
    with Session(engine) as session:
        assert count(session, PlanTarget) == 1
    engine.dispose()
