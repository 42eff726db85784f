"""Person search across the incidents one may see: scored, explained, audited."""

from __future__ import annotations

from fastapi.testclient import TestClient

from records.test_incidents_api import record
from test_app import assert_problem

URL = "/api/v1/persons"


def victim(given: str, surnames: str, **extra: str) -> dict[str, str]:
    return {"role": "victim", "given_names": given, "surnames": surnames, **extra}


def test_a_person_is_found_with_surnames_swapped_and_a_typo(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    incident = record(
        client, auth, persons=[victim("Juan Carlos", "Pérez López", date_of_birth="1990-05")]
    )
    hits = client.get(
        URL, params={"given_names": "Jaun", "surnames": "lopez peres"}, headers=auth("bob")
    ).json()
    assert hits["total"] == 1
    hit = hits["items"][0]
    assert hit["incident_id"] == incident["id"] and hit["score"] >= 85
    assert any("sounds like" in r or "close to" in r for r in hit["reasons"])


def test_date_of_birth_and_sex_confirm_or_count_against(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    record(client, auth, persons=[victim("Ana", "Ruiz", date_of_birth="1990-05-03", sex="female")])
    headers = auth("bob")
    agrees = client.get(
        URL,
        params={"given_names": "Ana", "surnames": "Ruiz", "date_of_birth": "1990"},
        headers=headers,
    ).json()
    assert (
        agrees["items"][0]["score"] == 100
        and "date of birth agrees" in agrees["items"][0]["reasons"]
    )
    differs = client.get(
        URL,
        params={"given_names": "Ana", "surnames": "Ruiz", "date_of_birth": "1975"},
        headers=headers,
    ).json()
    assert differs["total"] == 0
    other_sex = client.get(
        URL,
        params={"given_names": "Ana", "surnames": "Ruiz", "sex": "male", "threshold": 50},
        headers=headers,
    ).json()
    assert "sex differs" in other_sex["items"][0]["reasons"]


def test_other_people_are_not_hits(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    record(client, auth, persons=[victim("Juan", "Pérez")])
    hits = client.get(
        URL, params={"given_names": "Juan", "surnames": "Gómez"}, headers=auth("bob")
    ).json()
    assert hits["total"] == 0


def test_charlie_gets_no_hits_from_agency_a_and_searches_are_audited(
    client: TestClient, auth
) -> None:  # type: ignore[no-untyped-def]
    record(client, auth, persons=[victim("Juan", "Pérez")])
    assert (
        client.get(URL, params={"surnames": "Pérez"}, headers=auth("charlie")).json()["total"] == 0
    )
    entries = client.get(
        "/api/v1/audit", params={"action": "person.search"}, headers=auth("auditor")
    ).json()
    assert entries["total"] == 1 and entries["items"][0]["actor"] == "charlie"


def test_a_search_needs_surnames(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    assert_problem(
        client.get(URL, params={"given_names": "Juan"}, headers=auth("bob")), 422, "API-102"
    )
