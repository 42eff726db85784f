"""Alerts through the API: issued, found by identifier, matched against records, changed
and cancelled only by their owner, as each persona."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.test_sign_in_web import csrf_from, web_sign_in
from atalaya.alerts import service
from atalaya.alerts.models import Alert, AlertKey, AlertStatus, AlertType
from atalaya.alerts.schema import AlertIn
from atalaya.audit.models import AuditEntry
from records.test_incidents_api import homicide
from test_app import assert_problem

URL = "/api/v1/alerts"
VIN = "1M8GDM9AXKP042788"
NEXT_YEAR = (dt.date.today() + dt.timedelta(days=365)).isoformat()


def stolen_vehicle(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "stolen_vehicle",
        "summary": "Camioneta robada con violencia en Juárez.",
        "review_date": NEXT_YEAR,
        "vehicle": {"vin": VIN, "plate": "EFG-12-34", "make": "Nissan", "colour": "blanco"},
    }
    body.update(changes)
    return body


def wanted(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "wanted",
        "summary": "Orden de aprehensión por homicidio.",
        "review_date": NEXT_YEAR,
        "warrant_reference": "CP-2026-0456",
        "person": {"given_names": "Juan Carlos", "surnames": "Pérez López",
                   "date_of_birth": "1999-04", "sex": "male", "nationality": "MX"},
    }  # fmt: skip
    body.update(changes)
    return body


def issue(client: TestClient, auth, body: dict[str, Any], who: str = "alice") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = client.post(URL, json=body, headers=auth(who))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def alerts(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Alert)) or 0


def test_alice_issues_an_alert_found_by_its_identifier_written_any_way(
    client: TestClient,
    auth,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    alert = issue(client, auth, stolen_vehicle())
    assert (alert["type"], alert["status"], alert["version"]) == ("stolen_vehicle", "active", 1)
    assert (alert["agency"], alert["received_from"]) == ("MX-SSPM-JUA", None)
    assert alert["owner_node"]
    for params in (
        {"vin": "1m8 gdm9axkp042788"},
        {"plate": "efg 1234"},
        {"type": "stolen_vehicle"},
    ):
        found = client.get(URL, params=params, headers=auth("charlie")).json()
        assert [a["uid"] for a in found["items"]] == [alert["uid"]], params
    assert client.get(URL, params={"vin": "1HGCM82633A004352"}, headers=auth("bob")).json() == {
        "items": [],
        "total": 0,
        "next": None,
    }
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == alert["uid"]))
    assert "alert.issue" in set(actions)


def test_outsiders_get_nothing(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    alert = issue(client, auth, stolen_vehicle())
    assert_problem(client.get(URL), 401, "AUTH-101")
    assert_problem(client.get(f"{URL}/{alert['uid']}"), 401, "AUTH-101")
    # The auditor reads the log, not the alerts; an analyst reads but does not issue.
    assert_problem(client.get(URL, headers=auth("auditor")), 403, "AUTH-111")
    assert_problem(client.post(URL, json=stolen_vehicle(), headers=auth("bob")), 403, "AUTH-111")


def test_an_alert_lights_up_on_the_records_that_match_it_for_those_who_may_see_them(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
) -> None:
    incident = client.post("/api/v1/incidents", json=homicide(), headers=auth("alice")).json()
    alert = issue(client, auth, stolen_vehicle(), who="charlie")
    on_incident = client.get(f"/api/v1/incidents/{incident['id']}/alerts", headers=auth("alice"))
    assert [a["uid"] for a in on_incident.json()["items"]] == [alert["uid"]]
    detail = client.get(f"{URL}/{alert['uid']}", headers=auth("alice")).json()
    assert [(m["incident_id"], m["kind"], m["matched"]) for m in detail["matches"]] == [
        (incident["id"], "vehicle", "vin"),
    ]
    # charlie issued it, but may not see agency A's incident: no match, not even a count.
    assert client.get(f"{URL}/{alert['uid']}", headers=auth("charlie")).json()["matches"] == []
    response = client.get(f"/api/v1/incidents/{incident['id']}/alerts", headers=auth("charlie"))
    assert_problem(response, 404, "API-106")


def test_a_wanted_person_lights_up_on_a_recorded_person_by_name_and_date_of_birth(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
) -> None:
    suspect = {"role": "suspect", "given_names": "Juan Carlos", "surnames": "Perez Lopez",
               "date_of_birth": "1999-04-12", "sex": "male"}  # fmt: skip
    other = {"role": "suspect", "given_names": "Juan Carlos", "surnames": "Pérez López",
             "date_of_birth": "1960-01-01", "sex": "male"}  # fmt: skip
    victim = homicide()["persons"]
    first = client.post("/api/v1/incidents", json=homicide(persons=[*victim, suspect]),
                        headers=auth("alice")).json()  # fmt: skip
    second = client.post("/api/v1/incidents", json=homicide(reference="X-2", persons=[other],
                         offences=[{"iccs": "020221"}], vehicles=[]), headers=auth("alice")).json()  # fmt: skip
    alert = issue(client, auth, wanted(), who="diana")
    lit = client.get(f"/api/v1/incidents/{first['id']}/alerts", headers=auth("alice")).json()
    assert [a["uid"] for a in lit["items"]] == [alert["uid"]]
    # Same name, another date of birth: not the wanted person.
    unlit = client.get(f"/api/v1/incidents/{second['id']}/alerts", headers=auth("alice")).json()
    assert unlit["items"] == []
    matches = client.get(f"{URL}/{alert['uid']}", headers=auth("diana")).json()["matches"]
    assert [(m["incident_id"], m["kind"]) for m in matches][:1] == [(first["id"], "person")]
    assert all(m["incident_id"] != second["id"] for m in matches)


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (stolen_vehicle(type="kidnapping"), "type", "ALR-101"),
        (stolen_vehicle(vehicle=None), "vehicle", "ALR-102"),
        (wanted(warrant_reference=None), "warrant_reference", "ALR-103"),
        (stolen_vehicle(review_date=dt.date.today().isoformat()), "review_date", "ALR-104"),
        (stolen_vehicle(vehicle={"make": "Nissan"}), "vehicle.vin", "ALR-105"),
        (stolen_vehicle(vehicle={"vin": "1M8GDM9AXKP042789"}), "vehicle.vin", "ALR-106"),
        (stolen_vehicle(person=wanted()["person"]), "person", "ALR-107"),
        (wanted(person={"surnames": "Pérez", "date_of_birth": "abril"}), "person.date_of_birth",
         "ALR-111"),
        (wanted(person={"surnames": "Pérez", "nationality": "XX"}), "person.nationality",
         "ALR-112"),
        (wanted(person={"surnames": "Pérez", "date_of_birth": "1850"}), "person.date_of_birth",
         "REC-120"),
        (wanted(type="missing", warrant_reference=None,
                person={"surnames": "Pérez", "date_of_birth": "1899-12"}),
         "person.date_of_birth", "REC-120"),
        (wanted(person={"surnames": "Pérez", "date_of_birth": "2999-01"}), "person.date_of_birth",
         "REC-102"),
        ({**wanted(), "colour": "red"}, "colour", "API-103"),
        ({**wanted(), "review_date": "next year"}, "review_date", "API-104"),
    ],
)  # fmt: skip
def test_a_bad_alert_is_refused_with_its_rule_and_nothing_is_stored(
    client: TestClient,
    auth,
    session: Session,
    body: dict[str, Any],
    field: str,
    code: str,  # type: ignore[no-untyped-def]
) -> None:
    before = alerts(session)
    problem = assert_problem(client.post(URL, json=body, headers=auth("alice")), 422, code)
    assert (field, code) in {(e["field"], e["code"]) for e in problem["errors"]}
    assert all(e["message"] and "{" not in e["message"] for e in problem["errors"])
    assert alerts(session) == before


def test_only_the_issuing_jurisdiction_changes_an_alert_and_never_over_a_newer_version(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
) -> None:
    alert = issue(client, auth, stolen_vehicle())
    url = f"{URL}/{alert['uid']}"
    changed = {**stolen_vehicle(vehicle={"plate": "ABC-99-88"}), "version": 1}
    assert_problem(client.put(url, json=changed, headers=auth("charlie")), 403, "AUTH-112")
    updated = client.put(url, json=changed, headers=auth("alice")).json()
    assert updated["version"] == 2
    assert client.get(URL, params={"vin": VIN}, headers=auth("alice")).json()["total"] == 0
    assert client.get(URL, params={"plate": "abc9988"}, headers=auth("alice")).json()["total"] == 1
    # diana's state jurisdiction covers Juárez; alice's stale version is refused.
    assert client.put(url, json={**changed, "version": 2}, headers=auth("diana")).status_code == 200
    assert_problem(client.put(url, json={**changed, "version": 2}, headers=auth("alice")), 409,
                   "ALR-114")  # fmt: skip
    retyped = {**wanted(), "version": 3}
    assert_problem(client.put(url, json=retyped, headers=auth("alice")), 422, "ALR-113")


def test_a_cancelled_alert_stops_lighting_up_and_cannot_change(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
) -> None:
    incident = client.post("/api/v1/incidents", json=homicide(), headers=auth("alice")).json()
    alert = issue(client, auth, stolen_vehicle())
    url = f"{URL}/{alert['uid']}"
    cancel = {"reason": "Vehículo recuperado.", "version": 1}
    assert_problem(client.post(f"{url}/cancel", json=cancel, headers=auth("charlie")), 403,
                   "AUTH-112")  # fmt: skip
    cancelled = client.post(f"{url}/cancel", json=cancel, headers=auth("alice")).json()
    assert (cancelled["status"], cancelled["cancel_reason"]) == (
        "cancelled",
        "Vehículo recuperado.",
    )
    lit = client.get(f"/api/v1/incidents/{incident['id']}/alerts", headers=auth("alice")).json()
    assert lit["items"] == []
    again = {**stolen_vehicle(), "version": 2}
    assert_problem(client.put(url, json=again, headers=auth("alice")), 409, "ALR-109")
    response = client.post(f"{url}/cancel", json={"reason": ""}, headers=auth("alice"))
    problem = assert_problem(response, 422, "API-104")
    assert {(e["field"], e["code"]) for e in problem["errors"]} == {
        ("reason", "API-104"),
        ("version", "API-102"),
    }


def received(session: Session, kind: AlertType, body: dict[str, Any]) -> Alert:
    """An alert as a peer (``gt-pnc``) would have sent it."""
    data = AlertIn.model_validate(body)
    alert = Alert(uid=service.new_uid(), type=kind, status=AlertStatus.ACTIVE, owner_node="gt-pnc",
                  received_from="gt-pnc", version=1)  # fmt: skip
    service.fill(alert, data)
    session.add(alert)
    session.flush()
    return alert


def deportation() -> dict[str, Any]:
    return wanted(
        type="deportation",
        warrant_reference=None,
        deportation={"deporting_country": "GT", "arrival_date": NEXT_YEAR,
                     "arrival_place": "AICM", "criminal_record": "Robo agravado (2019)."},
    )  # fmt: skip


def test_a_received_alert_changes_only_by_its_owner_and_a_deportation_is_acknowledged(
    client: TestClient,
    auth,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    notice = received(session, AlertType.DEPORTATION, deportation())
    session.commit()
    url = f"{URL}/{notice.uid}"
    changed = {**deportation(), "version": 1}
    assert_problem(client.put(url, json=changed, headers=auth("diana")), 403, "ALR-108")
    assert_problem(client.post(f"{url}/acknowledge", headers=auth("alice")), 403, "AUTH-111")
    acknowledged = client.post(f"{url}/acknowledge", headers=auth("diana")).json()
    assert acknowledged["acknowledged_by"] == "MX-SSPE-CHH/diana"
    listed = client.get(URL, params={"origin": "received"}, headers=auth("alice")).json()
    assert [a["uid"] for a in listed["items"]] == [notice.uid]
    own = issue(client, auth, deportation(), who="diana")
    response = client.post(f"{URL}/{own['uid']}/acknowledge", headers=auth("diana"))
    assert_problem(response, 409, "ALR-110")


def test_a_change_or_a_deportation_notice_is_refused_a_date_of_birth_a_record_refuses(
    client: TestClient,
    auth,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    alert = issue(client, auth, wanted())
    url = f"{URL}/{alert['uid']}"
    early = {**wanted(person={"surnames": "Pérez", "date_of_birth": "1234-05-06"}), "version": 1}
    problem = assert_problem(client.put(url, json=early, headers=auth("alice")), 422, "REC-120")
    assert [(e["field"], e["message"]) for e in problem["errors"]] == [
        ("person.date_of_birth", "This date is before 1900.")
    ]
    assert client.get(url, headers=auth("alice")).json()["version"] == 1
    before = alerts(session)
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    unborn = {**deportation(), "person": {**deportation()["person"], "date_of_birth": tomorrow}}
    response = client.post(URL, json=unborn, headers=auth("diana"))
    problem = assert_problem(response, 422, "REC-102")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [
        ("person.date_of_birth", "REC-102")
    ]
    assert alerts(session) == before


MADE_UP = "01900000-0000-7000-8000-000000000000"


def test_a_caller_without_the_role_learns_nothing_of_which_alerts_exist(
    client: TestClient,
    auth,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    issued = issue(client, auth, stolen_vehicle())["uid"]
    notice = received(session, AlertType.DEPORTATION, deportation()).uid
    session.commit()
    cancel = {"reason": "Recuperado.", "version": 1}
    change = {**stolen_vehicle(), "version": 1}
    for uid in (issued, notice, MADE_UP):
        # bob (analyst) neither issues nor acknowledges; alice does not acknowledge.
        assert_problem(client.put(f"{URL}/{uid}", json=change, headers=auth("bob")), 403,
                       "AUTH-111")  # fmt: skip
        assert_problem(client.post(f"{URL}/{uid}/cancel", json=cancel, headers=auth("bob")), 403,
                       "AUTH-111")  # fmt: skip
        assert_problem(client.post(f"{URL}/{uid}/acknowledge", headers=auth("alice")), 403,
                       "AUTH-111")  # fmt: skip
    assert_problem(client.put(f"{URL}/{MADE_UP}", json=change, headers=auth("alice")), 404,
                   "API-106")  # fmt: skip
    web_sign_in(client, "bob")
    token = csrf_from(client.get("/alerts").text)
    for uid in (issued, MADE_UP):
        page = client.post(f"/alerts/{uid}/cancel", data={"csrf_token": token, **cancel})
        assert page.status_code == 403, uid
        page = client.post(f"/alerts/{uid}/acknowledge", data={"csrf_token": token})
        assert page.status_code == 403, uid


def test_keys_are_the_normalised_identifiers(session: Session) -> None:
    alert = received(session, AlertType.STOLEN_VEHICLE, stolen_vehicle())
    keys = set(session.execute(select(AlertKey.kind, AlertKey.value)).all())
    assert {("vin", VIN), ("plate", "EFG1234")} <= keys
    assert alert.due_for_review(dt.date.today() + dt.timedelta(days=366))
    assert not alert.due_for_review(dt.date.today())


def test_the_pages_show_the_inbox_the_alert_and_the_incident_it_lights_up(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
) -> None:
    incident = client.post("/api/v1/incidents", json=homicide(), headers=auth("alice")).json()
    alert = issue(client, auth, stolen_vehicle())
    assert client.get("/alerts", follow_redirects=False).status_code in (303, 401)
    web_sign_in(client, "alice")
    inbox = client.get("/alerts")
    assert inbox.status_code == 200 and alert["uid"] in inbox.text
    page = client.get(f"/alerts/{alert['uid']}")
    assert page.status_code == 200 and incident["reference"] in page.text
    assert f"/alerts/{alert['uid']}" in client.get(f"/incidents/{incident['id']}").text
    token = csrf_from(page.text)
    form = {"csrf_token": token, "reason": "Recuperado.", "version": "1"}
    cancelled = client.post(f"/alerts/{alert['uid']}/cancel", data=form, follow_redirects=False)
    assert cancelled.status_code == 303
    assert f"/alerts/{alert['uid']}" not in client.get(f"/incidents/{incident['id']}").text
    web_sign_in(client, "auditor")
    assert client.get("/alerts").status_code == 403


def test_the_form_issues_an_alert_or_shows_each_message_by_its_field(
    client: TestClient, session: Session
) -> None:
    web_sign_in(client, "alice")
    token = csrf_from(client.get("/alerts/new").text)
    before = alerts(session)
    bad = {"csrf_token": token, "type": "stolen_vehicle", "summary": "Robo",
           "review_date": NEXT_YEAR, "vehicle.vin": "1M8GDM9AXKP042789"}  # fmt: skip
    page = client.post("/alerts/new", data=bad)
    assert page.status_code == 422
    assert 'id="vehicle.vin-error"' in page.text and 'aria-invalid="true"' in page.text
    assert alerts(session) == before
    good = {**bad, "vehicle.vin": VIN, "person.surnames": ""}
    done = client.post("/alerts/new", data=good, follow_redirects=False)
    assert done.status_code == 303
    uid = done.headers["location"].rsplit("/", 1)[1]
    session.expire_all()
    alert = session.scalars(select(Alert).where(Alert.uid == uid)).one()
    assert alert.subject == {"vehicle": {"vin": VIN}}
    web_sign_in(client, "bob")
    assert client.get("/alerts/new").status_code == 403


def test_the_form_refuses_a_date_of_birth_before_1900_beside_its_field(
    client: TestClient, session: Session
) -> None:
    web_sign_in(client, "alice")
    token = csrf_from(client.get("/alerts/new").text)
    before = alerts(session)
    form = {"csrf_token": token, "type": "missing", "summary": "Desaparecida en Juárez.",
            "review_date": NEXT_YEAR, "person.surnames": "Ruiz", "person.date_of_birth": "1850"}  # fmt: skip
    page = client.post("/alerts/new", data=form)
    assert page.status_code == 422
    assert 'id="person.date_of_birth-error"' in page.text
    assert "This date is before 1900." in page.text
    assert alerts(session) == before


def test_the_alerts_lit_on_an_incident_are_audited_and_a_read_names_the_records_it_showed(
    client: TestClient,
    auth,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    incident = client.post("/api/v1/incidents", json=homicide(), headers=auth("alice")).json()
    alert = issue(client, auth, stolen_vehicle())
    client.get(f"/api/v1/incidents/{incident['id']}/alerts", headers=auth("bob"))
    client.get(f"{URL}/{alert['uid']}", headers=auth("bob"))
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.actor_username == "bob").order_by(AuditEntry.seq)
    ).all()
    assert [(e.action, json.loads(e.detail)) for e in entries] == [
        ("alert.list", {"incident": incident["id"], "uids": [alert["uid"]]}),
        ("alert.read", {"incidents": [incident["id"]]}),
    ]
