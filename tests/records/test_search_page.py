"""The search page: persons and things across the incidents one may see, linked."""

from __future__ import annotations

from fastapi.testclient import TestClient

from accounts.test_sign_in_web import web_sign_in
from records.test_incidents_api import record


def test_a_person_and_a_plate_lead_to_their_incident(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    incident = record(client, auth)
    web_sign_in(client, "bob")
    page = client.get(
        "/search", params={"surnames": "lopez perez", "given_names": "juan", "plate": "efg1234"}
    )
    assert page.status_code == 200
    assert page.text.count(f'href="/incidents/{incident["id"]}"') == 2
    assert "surname" in page.text  # the reasons are shown


def test_charlie_finds_nothing_of_agency_a_and_is_told_so(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    record(client, auth)
    web_sign_in(client, "charlie")
    page = client.get("/search", params={"surnames": "Pérez", "plate": "EFG-12-34"})
    assert "JUA-2026-000123" not in page.text
    assert "No person found." in page.text and "No vehicle, firearm or document found." in page.text


def test_the_search_page_is_audited(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    web_sign_in(client, "bob")
    client.get("/search", params={"surnames": "Pérez"})
    entries = client.get(
        "/api/v1/audit", params={"action": "search"}, headers=auth("auditor")
    ).json()
    assert entries["total"] == 1 and entries["items"][0]["actor"] == "bob"
