"""Vehicles, firearms and documents found across the incidents one may see, however
their identifiers were written."""

from __future__ import annotations

from fastapi.testclient import TestClient

from records.test_incidents_api import record
from test_app import assert_problem


def test_a_plate_is_found_however_it_is_written(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    incident = record(client, auth)
    hits = client.get(
        "/api/v1/vehicles", params={"plate": "efg 12 34"}, headers=auth("diana")
    ).json()
    assert hits["total"] == 1
    hit = hits["items"][0]
    assert (hit["incident_id"], hit["matched"], hit["thing"]["plate"]) == (
        incident["id"],
        "plate",
        "EFG-12-34",
    )


def test_a_vin_is_found_and_matched_by_vin(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    record(client, auth)
    hits = client.get("/api/v1/vehicles", params={"vin": "1m8-gdm9a-xkp042788", "plate": "EFG1234"},
                      headers=auth("bob")).json()  # fmt: skip
    assert [h["matched"] for h in hits["items"]] == ["vin"]


def test_firearms_and_documents_by_number(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    record(client, auth, firearms=[{"status": "seized", "serial": "AB-1234", "type": "pistol"}],
           documents=[{"status": "stolen", "type": "passport", "number": "G 123 456", "issuing_country": "MX"}])  # fmt: skip
    headers = auth("alice")
    assert (
        client.get("/api/v1/firearms", params={"serial": "ab1234"}, headers=headers).json()["total"]
        == 1
    )
    documents = client.get(
        "/api/v1/documents", params={"number": "g123456", "issuing_country": "MX"}, headers=headers
    )
    assert documents.json()["total"] == 1
    other_country = client.get(
        "/api/v1/documents", params={"number": "g123456", "issuing_country": "GT"}, headers=headers
    )
    assert other_country.json()["total"] == 0


def test_charlie_finds_nothing_of_agency_a(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    record(client, auth)
    hits = client.get(
        "/api/v1/vehicles", params={"plate": "EFG-12-34"}, headers=auth("charlie")
    ).json()
    assert hits == {"items": [], "total": 0, "next": None}


def test_searches_are_audited(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    client.get("/api/v1/vehicles", params={"plate": "XYZ"}, headers=auth("bob"))
    entries = client.get(
        "/api/v1/audit", params={"action": "vehicle.search"}, headers=auth("auditor")
    ).json()
    assert entries["total"] == 1 and entries["items"][0]["actor"] == "bob"


def test_a_bad_country_is_refused(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    response = client.get(
        "/api/v1/documents", params={"number": "1", "issuing_country": "mex"}, headers=auth("bob")
    )
    assert_problem(response, 422, "API-104")
