"""Changing an incident in the browser: a new version each time, the form holding every
part of the record, messages beside their fields, nothing stored while one remains."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.test_sign_in_web import csrf_from, web_sign_in
from atalaya.records.models import Incident
from atalaya.records.schema import IncidentIn
from records.test_incident_form import GOOD
from records.test_incidents_api import URL, count, homicide, record
from web.test_accessibility import audit_page


class RecordForm(HTMLParser):
    """Collects what a browser would send from the page's record form, unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.names: set[str] = set()
        self._inside = False
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._inside = "record" in a.get("class", "")
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "")
        elif self._inside and a.get("name"):
            self._control(tag, a["name"], a)

    def _control(self, tag: str, name: str, a: dict[str, str]) -> None:
        self.names.add(name)
        if tag == "input" and a.get("type") == "checkbox":
            if "checked" in a:
                self.fields[name] = "on"
        elif tag == "input" and a.get("type") != "submit":
            self.fields[name] = a.get("value", "")
        elif tag == "select":
            self._select, self.fields[name] = name, ""
        elif tag == "textarea":
            self._textarea, self.fields[name] = name, ""

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._inside = False


def record_form(html: str) -> RecordForm:
    parser = RecordForm()
    parser.feed(html)
    return parser


def edit(client: TestClient, incident_id: int, **changes: str):  # type: ignore[no-untyped-def]
    """Open the edit form, change fields as a user would, and send it."""
    page = client.get(f"/incidents/{incident_id}/edit")
    assert page.status_code == 200, page.text
    data = record_form(page.text).fields | changes
    return client.post(f"/incidents/{incident_id}/edit", data=data, follow_redirects=False)


def history(client: TestClient, auth, incident_id: int) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    response = client.get(f"{URL}/{incident_id}/history", headers=auth("alice"))
    return response.json()  # type: ignore[no-any-return]


def test_an_edit_is_a_new_version_and_the_history_says_who_changed_what(
    client: TestClient, auth
) -> None:  # type: ignore[no-untyped-def]
    incident = record(client, auth)
    web_sign_in(client, "alice")
    response = edit(client, incident["id"], status="under_investigation", narrative="Detenido.")
    assert response.status_code == 303
    assert response.headers["location"] == f"/incidents/{incident['id']}"
    versions = history(client, auth, incident["id"])
    assert [(v["version"], v["changed_by"]) for v in versions] == [(1, "alice"), (2, "alice")]
    before, after = versions[0]["record"], versions[1]["record"]
    # The form carried everything else over untouched: date, vehicle, persons, offences.
    assert {k for k in before if before[k] != after[k]} == {"status", "narrative"}
    page = client.get(response.headers["location"]).text
    assert "Version 2" in page and "Changed: status, narrative" in page


def test_the_edit_form_holds_every_field_of_the_record_each_labelled(
    client: TestClient, auth
) -> None:  # type: ignore[no-untyped-def]
    incident = record(client, auth)
    web_sign_in(client, "alice")
    page = client.get(f"/incidents/{incident['id']}/edit").text
    names = record_form(page).names
    for part in ("offences", "persons", "vehicles", "firearms", "documents"):
        row = IncidentIn.model_fields[part].annotation.__args__[0]  # type: ignore[union-attr]
        assert {f"{part}.0.{field}" for field in row.model_fields} <= names, part
    parts = {"offences", "persons", "vehicles", "firearms", "documents"}
    assert set(IncidentIn.model_fields) - parts <= names
    # One blank row beyond the one vehicle, at least the rows a new form has.
    assert "vehicles.1.vin" in names and "persons.5.role" in names
    controls = audit_page(page)
    assert [c for c in controls.controls if c not in controls.labelled] == []
    assert 'value="Pérez López"' in page and 'value="1M8GDM9AXKP042788"' in page


def test_several_offences_persons_and_things_are_recorded_and_blank_rows_ignored(
    client: TestClient, session: Session
) -> None:
    web_sign_in(client, "alice")
    page = client.get("/incidents/new")
    assert "vehicles.1.vin" in record_form(page.text).names
    data = GOOD | {
        "offences.2.iccs": "020111",
        "persons.3.role": "suspect", "persons.3.surnames": "Gómez",
        "vehicles.1.status": "stolen", "vehicles.1.plate": "ABC-123",
        "firearms.0.status": "seized", "firearms.0.serial": "XK-42",
        "documents.1.status": "fraudulent", "documents.1.type": "passport",
        "documents.1.number": "G123", "documents.1.issuing_country": "MX",
        "csrf_token": csrf_from(page.text),
    }  # fmt: skip
    response = client.post("/incidents/new", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    incident = session.scalars(select(Incident).where(Incident.reference == "WEB-1")).one()
    assert [o.iccs_code for o in incident.offences] == ["0101", "020111"]
    assert [p.surnames for p in incident.persons] == ["Ruiz", "Gómez"]
    assert [v.plate_normalised for v in incident.vehicles] == ["ABC123"]
    assert [f.serial for f in incident.firearms] == ["XK-42"]
    assert [(d.type, d.issuing_country) for d in incident.documents] == [("passport", "MX")]


def test_a_message_stands_beside_a_nested_field_in_the_users_language(
    client: TestClient, session: Session
) -> None:
    web_sign_in(client, "alice")
    token = csrf_from(client.get("/").text)
    client.post("/language", data={"language": "es", "next": "/", "csrf_token": token})
    page = client.get("/incidents/new")
    # Row 0 of the vehicles is left blank: the bad VIN is the record's first vehicle,
    # and its message still goes beside the row it was typed in.
    bad = GOOD | {
        "vehicles.1.status": "stolen", "vehicles.1.vin": "1M8GDM9AXKP042789",
        "firearms.1.status": "seized", "firearms.1.serial": "X1", "firearms.1.type": "cannon",
        "csrf_token": csrf_from(page.text),
    }  # fmt: skip
    before = count(session)
    response = client.post("/incidents/new", data=bad)
    assert response.status_code == 422
    html = response.text
    assert 'id="vehicles.1.vin-error"' in html and 'aria-describedby="vehicles.1.vin-error"' in html
    assert "Este no es un número de identificación vehicular (VIN) válido." in html
    assert 'id="firearms.1.type-error"' in html and "Este valor no es uno de los permitidos" in html
    assert 'id="vehicles.0.vin-error"' not in html
    assert 'value="1M8GDM9AXKP042789"' in html
    assert count(session) == before


def test_a_wrong_type_in_a_nested_field_is_shown_beside_it(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    incident = record(client, auth)
    web_sign_in(client, "alice")
    response = edit(client, incident["id"], **{"vehicles.0.year": "last year"})
    assert response.status_code == 422
    assert 'id="vehicles.0.year-error"' in response.text
    assert "The changes were not saved" in response.text
    assert [v["version"] for v in history(client, auth, incident["id"])] == [1]


def test_more_rows_are_added_without_saving(client: TestClient, session: Session) -> None:
    web_sign_in(client, "alice")
    page = client.get("/incidents/new")
    before = count(session)
    data = GOOD | {"more": "persons", "csrf_token": csrf_from(page.text)}
    response = client.post("/incidents/new", data=data)
    assert response.status_code == 200
    names = record_form(response.text).names
    assert "persons.8.role" in names and "persons.9.role" not in names
    assert 'value="Ruiz"' in response.text
    assert count(session) == before


def test_an_edit_without_its_csrf_token_is_refused(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    incident = record(client, auth)
    web_sign_in(client, "alice")
    page = client.get(f"/incidents/{incident['id']}/edit")
    data = record_form(page.text).fields | {"status": "closed"}
    del data["csrf_token"]
    response = client.post(f"/incidents/{incident['id']}/edit", data=data)
    assert response.status_code == 403
    assert [v["version"] for v in history(client, auth, incident["id"])] == [1]


def test_a_form_opened_before_someone_elses_change_does_not_overwrite_it(
    client: TestClient, auth
) -> None:  # type: ignore[no-untyped-def]
    incident = record(client, auth)
    web_sign_in(client, "alice")
    page = client.get(f"/incidents/{incident['id']}/edit")
    changed = homicide(status="closed")
    client.put(f"{URL}/{incident['id']}", json=changed, headers=auth("alice"))
    data = record_form(page.text).fields | {"narrative": "Mine."}
    response = client.post(f"/incidents/{incident['id']}/edit", data=data)
    assert response.status_code == 409
    assert "Someone else changed this incident" in response.text
    assert [v["version"] for v in history(client, auth, incident["id"])] == [1, 2]
    again = client.post(
        f"/incidents/{incident['id']}/edit",
        data=record_form(response.text).fields,
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert history(client, auth, incident["id"])[-1]["record"]["narrative"] == "Mine."


def test_only_those_who_may_update_get_the_link_and_the_form(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    incident = record(client, auth)
    path = f"/incidents/{incident['id']}"
    web_sign_in(client, "alice")
    assert f'href="{path}/edit"' in client.get(path).text
    client.cookies.clear()
    web_sign_in(client, "bob")  # analyst: reads, does not update
    assert f'href="{path}/edit"' not in client.get(path).text
    assert client.get(f"{path}/edit").status_code == 403
    client.cookies.clear()
    web_sign_in(client, "charlie")  # another agency, another city: as if there were none
    assert client.get(f"{path}/edit").status_code == 404
    token = csrf_from(client.get("/").text)
    response = client.post(f"{path}/edit", data={"csrf_token": token, "status": "closed"})
    assert response.status_code == 404
    assert [v["version"] for v in history(client, auth, incident["id"])] == [1]


def test_bad_incident_ids_in_the_edit_path_get_a_clean_answer(client: TestClient) -> None:
    web_sign_in(client, "alice")
    assert client.get("/incidents/abc/edit").status_code == 422
    assert client.get(f"/incidents/{10**30}/edit").status_code == 422
    assert client.get("/incidents/2147483647/edit").status_code == 404
