"""The incident pages: the list and one incident, within jurisdiction, audited."""

from __future__ import annotations

from fastapi.testclient import TestClient

from accounts.test_sign_in_web import csrf_from, web_sign_in
from records.test_incidents_api import record


def test_the_list_shows_the_incidents_the_user_may_see(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    incident = record(client, auth)
    web_sign_in(client, "bob")
    page = client.get("/incidents")
    assert page.status_code == 200
    assert f'href="/incidents/{incident["id"]}"' in page.text
    assert "Intentional homicide" in page.text
    assert "JUA-2026-000123" not in client.get("/incidents", params={"iccs_code": "02"}).text


def test_one_incident_in_full_with_its_history(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    incident = record(client, auth)
    web_sign_in(client, "alice")
    token = csrf_from(client.get("/").text)
    client.post("/language", data={"language": "es", "next": "/", "csrf_token": token})
    page = client.get(f"/incidents/{incident['id']}")
    assert page.status_code == 200
    assert "Pérez López" in page.text and "Homicidio intencional" in page.text
    assert "Versión 1" in page.text and "Personas involucradas" in page.text


def test_charlie_sees_neither_the_list_entry_nor_the_page(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    incident = record(client, auth)
    web_sign_in(client, "charlie")
    assert "JUA-2026-000123" not in client.get("/incidents").text
    assert client.get(f"/incidents/{incident['id']}").status_code == 404
