"""``GET /api/v1/indicators``: published series for anyone, unpublished ones only for those
whose role and jurisdiction allow; nobody else learns they exist, not even as a count."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from atalaya.clitools import unit_of_work
from atalaya.db import Database
from atalaya.observatory.models import Source
from atalaya.observatory.service import publish
from conftest import TEST_CONTEXT
from observatory.samples import load_samples

NATIONAL_2021 = {"iccs": "0101", "area": "MX", "period": "2021"}


@pytest.fixture
def samples(db: Database, tmp_path: Path) -> None:
    load_samples(db, tmp_path)


def publish_all(db: Database, iccs: str | None = None) -> None:
    with unit_of_work(SimpleNamespace(db=db)) as session:  # type: ignore[arg-type]
        for source in session.scalars(select(Source.id)).all():
            publish(session, TEST_CONTEXT, source, iccs=iccs)


def values(client: TestClient, headers: dict[str, str] | None = None, **params: str) -> dict:  # type: ignore[type-arg]
    response = client.get("/api/v1/indicators", params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.usefixtures("samples")
def test_anonymous_callers_never_see_unpublished_data_not_even_counts(client: TestClient) -> None:
    for params in ({}, NATIONAL_2021, {"area": "MX-CHH"}, {"iccs": "01", "frequency": "A"}):
        assert values(client, **params) == {"items": [], "total": 0, "next": None}


@pytest.mark.usefixtures("samples")
@pytest.mark.parametrize("user", ["alice", "charlie", "bob", "valentina"])
def test_users_outside_the_jurisdiction_or_without_the_role_see_no_unpublished_data(
    client: TestClient,
    auth,
    user: str,  # type: ignore[no-untyped-def]
) -> None:
    # alice and charlie are officers; bob is an analyst of Juárez (no state series there);
    # valentina an analyst of Colombia.
    assert values(client, auth(user), iccs="01")["total"] == 0


@pytest.mark.usefixtures("samples")
def test_a_state_supervisor_sees_the_unpublished_series_of_the_state_only(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
) -> None:
    found = values(client, auth("diana"), iccs="0101", period="2021")
    assert {(v["area"], v["value"]) for v in found["items"]} == {("MX-CHH", 156)}


@pytest.mark.usefixtures("samples")
def test_published_series_are_open_to_anyone(client: TestClient, db: Database) -> None:
    publish_all(db)
    (value,) = values(client, **NATIONAL_2021)["items"]
    assert (value["indicator"], value["iccs"], value["area"], value["period"]) == (
        "offences", "0101", "MX", "2021"
    )  # fmt: skip
    assert (value["sex"], value["source_type"], value["value"], value["status"]) == (
        "_T", "police", 2256, "final"
    )  # fmt: skip
    assert value["rate_per_100k"] == pytest.approx(225.6)
    assert value["population"] == {
        "value": 1_000_000,
        "year": 2021,
        "vintage": "2023-01-01",
        "source": {"publisher": "CONAPO",
                   "dataset": "Población a mitad de año por entidad federativa y sexo"},
    }  # fmt: skip
    assert value["sources"] == [{
        "publisher": "SESNSP",
        "dataset": "IDEFC_NM: incidencia delictiva del fuero común por entidad federativa",
        "vintage": "2022-05-01",
        "source_type": "police",
    }]  # fmt: skip
    assert "partial" in value["notes"][0]


@pytest.mark.usefixtures("samples")
def test_only_the_series_published_are_open(client: TestClient, db: Database) -> None:
    publish_all(db, iccs="010321")
    found = values(client, iccs="01", area="MX", period="2021")["items"]
    assert [(v["iccs"], v["value"]) for v in found] == [("01", 60)]


@pytest.mark.usefixtures("samples")
def test_notes_come_in_the_callers_language(client: TestClient, db: Database) -> None:
    publish_all(db)
    response = client.get(
        "/api/v1/indicators",
        params={"iccs": "0101", "area": "MX-CHH", "period": "2022"},
        headers={"Accept-Language": "es"},
    )
    (value,) = response.json()["items"]
    assert value["value"] is None and value["status"] == "not_available"
    assert value["iccs_name"] == "Homicidio intencional"


@pytest.mark.usefixtures("samples")
def test_a_long_answer_comes_in_pages(client: TestClient, db: Database) -> None:
    publish_all(db)
    first = values(client, area="MX-CHH", limit="10")
    assert first["total"] == 12 * 3 + 5 and len(first["items"]) == 10
    rest = values(client, area="MX-CHH", limit="500", cursor=first["next"])
    assert rest["next"] is None and len(rest["items"]) == first["total"] - 10


def test_bad_credentials_are_refused_not_taken_for_anonymous(client: TestClient) -> None:
    response = client.get("/api/v1/indicators", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401 and response.json()["code"] == "AUTH-108"


def test_bad_filters_come_back_together_as_a_problem(client: TestClient) -> None:
    response = client.get(
        "/api/v1/indicators", params={"iccs": "0108", "period": "21", "indicator": "x"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert {(e["field"], e["code"]) for e in response.json()["errors"]} == {
        ("iccs", "OBS-115"), ("period", "OBS-114"), ("indicator", "OBS-116")
    }  # fmt: skip
