"""Recording an incident in the browser: messages beside their fields, in the user's
language; nothing stored until every rule holds."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.test_sign_in_web import csrf_from, web_sign_in
from atalaya.records.models import Incident

GOOD = {
    "reference": "WEB-1", "occurred_from": "2026-11-20T22:15", "area": "MX-08-037",
    "place_type": "street", "status": "open", "narrative": "Riña con arma blanca.",
    "offences.0.iccs": "0101", "offences.0.weapon": "sharp_object",
    "persons.0.role": "victim", "persons.0.given_names": "Ana", "persons.0.surnames": "Ruiz",
    "persons.0.sex": "female", "persons.0.age": "31",
}  # fmt: skip


def post(client: TestClient, data: dict[str, str]):  # type: ignore[no-untyped-def]
    page = client.get("/incidents/new")
    return client.post("/incidents/new", data={**data, "csrf_token": csrf_from(page.text)},
                       follow_redirects=False)  # fmt: skip


def test_an_officer_records_an_incident_in_the_browser(
    client: TestClient, session: Session
) -> None:
    web_sign_in(client, "alice")
    response = post(client, GOOD)
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert "WEB-1" in page.text and "Ana Ruiz" in page.text


def test_each_message_stands_beside_its_field_in_the_users_language(
    client: TestClient, session: Session
) -> None:
    web_sign_in(client, "alice")
    token = csrf_from(client.get("/").text)
    client.post("/language", data={"language": "es", "next": "/", "csrf_token": token})
    bad = GOOD | {"occurred_from": "2030-01-01", "offences.0.iccs": "0201", "persons.0.age": "130"}
    response = post(client, bad)
    assert response.status_code == 422
    html = response.text
    assert 'id="occurred_from-error"' in html and "Esta fecha está en el futuro." in html
    assert 'id="offences.0.iccs-error"' in html and "demasiado general" in html
    assert 'id="persons.0.age-error"' in html
    assert 'value="Ruiz"' in html  # what was typed stays
    assert (session.scalar(select(func.count()).select_from(Incident)) or 0) == 0


def test_an_analyst_may_not_record(client: TestClient) -> None:
    web_sign_in(client, "bob")
    assert client.get("/incidents/new").status_code == 403
