"""An id outside one's jurisdiction answers as an id that does not exist (issue 12,
finding 9): the same status and the same body, so that refusals do not tell which
incidents, agencies, users or tokens exist. The refusal is still audited."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.test_sign_in_web import csrf_from, web_sign_in
from atalaya.records.models import Involvement, Vehicle
from records.test_incidents_api import homicide, record

MISSING = 999_999


def alike(response: Any) -> tuple[int, Any]:
    """What a caller learns from an answer, less what differs on every request."""
    if "json" in response.headers.get("content-type", ""):
        body = response.json()
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if k not in ("request_id", "instance")}
        return response.status_code, body
    # Pages differ only by the path they were asked for (the language form returns there).
    text = re.sub(r'name="(csrf_token|next)" value="[^"]*"', "", response.text)
    return response.status_code, text


@pytest.fixture
def ids(client: TestClient, auth, session: Session) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Ids of agency A's records: an incident, a person and a vehicle in it."""
    incident = record(client, auth)
    person = session.scalar(select(Involvement.id).where(Involvement.incident_id == incident["id"]))
    vehicle = session.scalar(select(Vehicle.id).where(Vehicle.incident_id == incident["id"]))
    assert person and vehicle
    return {"incident": incident["id"], "person": person, "vehicle": vehicle}


API = [
    ("GET", "/api/v1/incidents/{incident}", None),
    ("GET", "/api/v1/incidents/{incident}/history", None),
    ("PUT", "/api/v1/incidents/{incident}", homicide(narrative="Cambiado.")),
    ("GET", "/api/v1/incidents/{incident}/alerts", None),
    ("GET", "/api/v1/persons/{person}", None),
    ("GET", "/api/v1/vehicles/{vehicle}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), API)
def test_charlie_gets_the_same_404_for_agency_a_records_as_for_missing_ones(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
    ids: dict[str, int],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    headers = auth("charlie")
    outside = client.request(method, path.format(**ids), json=body, headers=headers)
    missing = {k: MISSING for k in ids}
    unknown = client.request(method, path.format(**missing), json=body, headers=headers)
    assert outside.status_code == 404, outside.text
    assert alike(outside) == alike(unknown)


def test_a_watch_on_an_incident_outside_answers_as_on_a_missing_one(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
    ids: dict[str, int],
) -> None:
    headers = auth("charlie")
    outside = client.post("/api/v1/hits/watches", json={"incident_id": ids["incident"]},
                          headers=headers)  # fmt: skip
    unknown = client.post("/api/v1/hits/watches", json={"incident_id": MISSING}, headers=headers)
    assert outside.status_code == 404
    assert alike(outside) == alike(unknown)


PAGES = [
    ("GET", "/incidents/{incident}"),
    ("GET", "/incidents/{incident}/edit"),
    ("POST", "/incidents/{incident}/edit"),
    ("GET", "/persons/{person}"),
    ("GET", "/vehicles/{vehicle}"),
]


@pytest.mark.parametrize(("method", "path"), PAGES)
def test_charlies_pages_for_agency_a_records_are_those_of_missing_ones(
    client: TestClient, ids: dict[str, int], method: str, path: str
) -> None:
    web_sign_in(client, "charlie")
    data = {"csrf_token": csrf_from(client.get("/").text), "status": "closed"}
    form = data if method == "POST" else None
    outside = client.request(method, path.format(**ids), data=form)
    unknown = client.request(method, path.format(**{k: MISSING for k in ids}), data=form)
    assert outside.status_code == 404
    assert alike(outside) == alike(unknown)


def test_an_agency_outside_answers_as_a_missing_one(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    headers = auth("charlie")
    outside = client.get("/api/v1/agencies/MX-SSPM-JUA", headers=headers)
    unknown = client.get("/api/v1/agencies/MX-NOPE", headers=headers)
    assert outside.status_code == 404
    assert alike(outside) == alike(unknown)


def test_a_profile_outside_answers_as_a_missing_user(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    headers = auth("diana")  # a state supervisor: reads the profiles of her state only
    outside = client.get("/api/v1/users/charlie", headers=headers)
    unknown = client.get("/api/v1/users/nobody", headers=headers)
    assert outside.status_code == 404
    assert alike(outside) == alike(unknown)


def test_without_the_role_a_profile_is_refused_whether_or_not_it_exists(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
) -> None:
    headers = auth("alice")  # an officer reads her own profile, nobody else's
    existing = client.get("/api/v1/users/bob", headers=headers)
    unknown = client.get("/api/v1/users/nobody", headers=headers)
    assert existing.status_code == 403
    assert alike(existing) == alike(unknown)


def test_someone_elses_token_answers_as_a_missing_one(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    alice = auth("alice")
    token_id = client.get("/api/v1/tokens", headers=alice).json()["items"][0]["id"]
    headers = auth("charlie")
    outside = client.delete(f"/api/v1/tokens/{token_id}", headers=headers)
    unknown = client.delete(f"/api/v1/tokens/{MISSING}", headers=headers)
    assert outside.status_code == 404
    assert alike(outside) == alike(unknown)
    assert client.get("/api/v1/me", headers=alice).status_code == 200


def test_a_refusal_answered_as_not_found_is_audited_as_a_refusal(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
    ids: dict[str, int],
) -> None:
    path = f"/api/v1/incidents/{ids['incident']}"
    client.get(path, headers=auth("charlie"))
    denied = client.get(
        "/api/v1/audit", params={"outcome": "denied", "actor": "charlie"}, headers=auth("auditor")
    ).json()["items"]
    assert [(e["object_id"], e["action"], json.loads(e["detail"])) for e in denied] == [
        (path, "record.read", {"code": "AUTH-112"})
    ]
