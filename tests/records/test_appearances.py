"""The pages of a person, vehicle, firearm or document: every incident it appears in that
the viewer may see, in the browser and through the API; nothing of another jurisdiction."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from accounts.test_sign_in_web import web_sign_in
from records.test_incidents_api import record
from test_app import assert_problem
from web.test_accessibility import audit_page

VICTIM = {"role": "victim", "given_names": "Juan Carlos", "surnames": "Pérez López",
          "sex": "male", "date_of_birth": "1999-04-02", "nationality": "MX"}  # fmt: skip
VIN = "1M8GDM9AXKP042788"


def world(client: TestClient, auth) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Three incidents of agency A: the first two share a person and every thing, written
    differently; the third has look-alikes that are not the same. And one of agency B
    (Guadalajara) with the same person and VIN."""
    first = record(
        client, auth,
        persons=[VICTIM],
        vehicles=[{"status": "stolen", "vin": VIN, "plate": "EFG-12-34", "plate_area": "MX-CHH"}],
        firearms=[{"status": "seized", "serial": "AB-1234"}],
        documents=[{"status": "stolen", "type": "passport", "number": "G-123 456",
                    "issuing_country": "MX"}],
    )  # fmt: skip
    second = record(
        client, auth, reference="JUA-2",
        persons=[{"role": "victim", "given_names": "Juan", "surnames": "Lopez Perez",
                  "date_of_birth": "1999-04"}],
        vehicles=[{"status": "recovered", "plate": "efg 1234", "plate_area": "MX-CHH"}],
        firearms=[{"status": "recovered", "serial": "ab1234"}],
        documents=[{"status": "recovered", "type": "passport", "number": "G123456"}],
    )  # fmt: skip
    third = record(
        client, auth, reference="JUA-3",
        persons=[{"role": "victim", "given_names": "José", "surnames": "Pérez"}],
        vehicles=[{"status": "stolen", "plate": "EFG1234", "plate_area": "MX-JAL"}],
        documents=[{"status": "lost", "type": "passport", "number": "G123456",
                    "issuing_country": "GT"}],
    )  # fmt: skip
    theirs = record(
        client, auth, who="charlie", reference="GDL-1", area="MX-14-039",
        persons=[VICTIM], vehicles=[{"status": "seized", "vin": VIN}],
    )  # fmt: skip
    return {"first": first, "second": second, "third": third, "theirs": theirs}


def _links(html: str, kind: str) -> list[str]:
    return re.findall(rf'href="/{kind}/(\d+)"', html)


def item(client: TestClient, kind: str, incident: dict[str, Any]) -> int:
    """Return the id of the first person or thing of ``kind`` in an incident, as its page
    links it (the signed-in user must see the incident)."""
    links = _links(client.get(f"/incidents/{incident['id']}").text, kind)
    assert links, f"no {kind} linked from incident {incident['id']}"
    return int(links[0])


def test_a_persons_page_lists_the_incidents_the_same_person_appears_in(
    client: TestClient, auth
) -> None:  # type: ignore[no-untyped-def]
    w = world(client, auth)
    web_sign_in(client, "bob")
    page = client.get(f"/persons/{item(client, 'persons', w['first'])}")
    assert page.status_code == 200
    html = page.text
    assert f'href="/incidents/{w["first"]["id"]}"' in html  # where it was recorded
    assert f'href="/incidents/{w["second"]["id"]}"' in html  # the same person again
    assert "surname &#39;perez&#39; equals &#39;perez&#39;" in html
    assert "date of birth agrees" in html
    assert f'href="/incidents/{w["third"]["id"]}"' not in html  # José Pérez is someone else
    assert f'href="/incidents/{w["theirs"]["id"]}"' not in html  # agency B, not Bob's to see
    controls = audit_page(html)
    assert [c for c in controls.controls if c not in controls.labelled] == []
    assert {"header", "main", "footer"} <= set(controls.tags)


@pytest.mark.parametrize("kind", ["vehicles", "firearms", "documents"])
def test_a_things_page_lists_the_incidents_with_the_same_identifier(
    client: TestClient, auth, kind: str
) -> None:  # type: ignore[no-untyped-def]
    w = world(client, auth)
    web_sign_in(client, "bob")
    page = client.get(f"/{kind}/{item(client, kind, w['first'])}")
    assert page.status_code == 200
    assert f'href="/incidents/{w["second"]["id"]}"' in page.text
    # Same plate in another state; same document number from another country.
    assert f'href="/incidents/{w["third"]["id"]}"' not in page.text
    assert f'href="/incidents/{w["theirs"]["id"]}"' not in page.text
    controls = audit_page(page.text)
    assert [c for c in controls.controls if c not in controls.labelled] == []


def test_the_api_gives_the_item_and_the_other_records_of_it(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    w = world(client, auth)
    web_sign_in(client, "bob")
    person_id = item(client, "persons", w["first"])
    vehicle_id = item(client, "vehicles", w["first"])
    headers = auth("bob")
    person = client.get(f"/api/v1/persons/{person_id}", headers=headers).json()
    assert person["incident"]["id"] == w["first"]["id"]
    assert person["person"]["surnames"] == "Pérez López"
    assert [(a["incident"]["id"], a["score"]) for a in person["appearances"]] == [
        (w["second"]["id"], 100.0)
    ]
    assert "date of birth agrees" in person["appearances"][0]["reasons"]
    vehicle = client.get(f"/api/v1/vehicles/{vehicle_id}", headers=headers).json()
    assert vehicle["thing"]["vin"] == VIN
    assert [(a["incident"]["reference"], a["matched"]) for a in vehicle["appearances"]] == [
        ("JUA-2", "plate")
    ]
    for kind in ("firearms", "documents"):
        thing_id = item(client, kind, w["first"])
        body = client.get(f"/api/v1/{kind}/{thing_id}", headers=headers).json()
        assert [a["incident"]["reference"] for a in body["appearances"]] == ["JUA-2"], kind


@pytest.mark.parametrize("kind", ["persons", "vehicles", "firearms", "documents"])
def test_charlie_gets_404_for_agency_as_items_in_the_browser_and_the_api(
    client: TestClient, auth, kind: str
) -> None:  # type: ignore[no-untyped-def]
    w = world(client, auth)
    web_sign_in(client, "alice")
    item_id = item(client, kind, w["first"])
    client.cookies.clear()
    web_sign_in(client, "charlie")
    page = client.get(f"/{kind}/{item_id}")
    assert page.status_code == 404
    assert "Pérez" not in page.text and "JUA-" not in page.text
    body = assert_problem(
        client.get(f"/api/v1/{kind}/{item_id}", headers=auth("charlie")), 404, "API-106"
    )
    assert "JUA" not in json.dumps(body)


def test_charlies_own_pages_never_list_agency_as_incidents(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    w = world(client, auth)
    web_sign_in(client, "charlie")
    for kind in ("persons", "vehicles"):
        page = client.get(f"/{kind}/{item(client, kind, w['theirs'])}")
        assert page.status_code == 200
        assert "JUA-" not in page.text
        assert "No other incident you may see records it." in page.text
        body = client.get(
            f"/api/v1/{kind}/{item(client, kind, w['theirs'])}", headers=auth("charlie")
        ).json()
        assert body["appearances"] == []


def test_every_read_of_a_persons_page_is_audited_with_the_incidents_shown(
    client: TestClient, auth
) -> None:  # type: ignore[no-untyped-def]
    w = world(client, auth)
    web_sign_in(client, "bob")
    person_id = item(client, "persons", w["first"])
    client.get(f"/persons/{person_id}")
    client.get(f"/api/v1/persons/{person_id}", headers=auth("bob"))
    entries = client.get(
        "/api/v1/audit", params={"action": "person.read"}, headers=auth("auditor")
    ).json()["items"]
    assert [(e["actor"], e["object_id"]) for e in entries] == [("bob", str(person_id))] * 2
    shown = sorted([w["first"]["id"], w["second"]["id"]])
    assert all(json.loads(e["detail"])["incidents"] == shown for e in entries)


@pytest.mark.parametrize("kind", ["persons", "vehicles", "firearms", "documents"])
def test_bad_ids_get_a_clean_answer_never_a_server_error(
    client: TestClient, auth, kind: str
) -> None:  # type: ignore[no-untyped-def]
    headers = auth("bob")
    assert_problem(client.get(f"/api/v1/{kind}/abc", headers=headers), 422, "API-104")
    assert_problem(client.get(f"/api/v1/{kind}/{10**30}", headers=headers), 422, "API-104")
    assert_problem(client.get(f"/api/v1/{kind}/0", headers=headers), 422, "API-104")
    assert_problem(client.get(f"/api/v1/{kind}/2147483647", headers=headers), 404, "API-106")
    web_sign_in(client, "bob")
    assert client.get(f"/{kind}/abc").status_code == 422
    assert client.get(f"/{kind}/2147483647").status_code == 404


@pytest.mark.parametrize("kind", ["persons", "vehicles", "firearms", "documents"])
def test_an_anonymous_client_gets_401_from_the_item_routes(client: TestClient, kind: str) -> None:
    assert_problem(client.get(f"/api/v1/{kind}/1"), 401, "AUTH-101")
